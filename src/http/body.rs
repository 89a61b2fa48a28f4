//! Request bodies within [`BODY_DEADLINE`]. actix-web bounds how long a client may take over the request head
//! (`client_request_timeout`), not over the body: a client that sent the head and then stopped held its
//! connection, and a file descriptor, for good. Every body reader (`form::Body`, the JSON readers of the
//! registration and admin APIs) stops at the deadline; the endpoint answers `invalid_request` in its own
//! shape, and [`close_after_stalled_body`] makes that answer the last on the connection.
use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::ConnectionType;
use actix_web::web::Bytes;
use actix_web::{web, HttpMessage, HttpRequest};
use futures_util::StreamExt;
use pin_project_lite::pin_project;
use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// How long a client has to send a whole request body once its head has arrived.
pub const BODY_DEADLINE: Duration = Duration::from_secs(10);

/// A body not all sent within [`BODY_DEADLINE`].
#[derive(Debug)]
pub struct Late;

/// The reader of a body that missed its deadline, kept until the answer has gone out. actix-http closes a
/// connection whose request body is still unread when the response has been sent, but drains a chunked body
/// whose reader is gone, to reuse the connection: a client that stopped sending would hold it all the same.
struct StalledBody {
    _reader: Box<dyn Any>,
}

fn keep_until_answered(req: &HttpRequest, reader: impl Any) {
    req.extensions_mut().insert(StalledBody { _reader: Box::new(reader) });
}

pin_project! {
    /// `read`, a future that reads a body, given until [`BODY_DEADLINE`]. The timer is set only when the body
    /// is not all there at the first poll, so a request that arrives in one piece, as token requests do, costs
    /// none.
    pub struct WithinDeadline<F> {
        read: Option<F>,
        #[pin]
        timer: Option<Sleep>,
        req: HttpRequest,
    }
}

impl<F> WithinDeadline<F> {
    /// `read` of the body of `req`.
    pub fn new(req: &HttpRequest, read: F) -> Self {
        Self { read: Some(read), timer: None, req: req.clone() }
    }
}

impl<F: Future + Unpin + 'static> Future for WithinDeadline<F> {
    type Output = Result<F::Output, Late>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let Some(read) = this.read.as_mut() else { return Poll::Ready(Err(Late)) };
        if let Poll::Ready(body) = Pin::new(read).poll(cx) {
            return Poll::Ready(Ok(body));
        }
        if this.timer.is_none() {
            this.timer.set(Some(tokio::time::sleep(BODY_DEADLINE)));
        }
        if let Some(timer) = this.timer.as_pin_mut() {
            ready!(timer.poll(cx));
        }
        if let Some(read) = this.read.take() {
            keep_until_answered(this.req, read);
        }
        Poll::Ready(Err(Late))
    }
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum Unread {
    /// Over the limit.
    TooLarge,
    /// Cut short or malformed.
    Broken,
    /// Not all sent within [`BODY_DEADLINE`].
    Late,
}

/// The body of `req`, at most `limit` bytes, sent within [`BODY_DEADLINE`].
pub async fn read(req: &HttpRequest, mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, Unread> {
    let deadline = Instant::now() + BODY_DEADLINE;
    let mut body = Vec::new();
    loop {
        let chunk = match tokio::time::timeout_at(deadline, payload.next()).await {
            Ok(Some(chunk)) => chunk.map_err(|_| Unread::Broken)?,
            Ok(None) => return Ok(body),
            Err(_) => {
                keep_until_answered(req, payload);
                return Err(Unread::Late);
            }
        };
        if body.len() + chunk.len() > limit {
            return Err(Unread::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
}

pin_project! {
    /// A response body, holding the reader of the request's stalled body, if any, until it has been sent.
    pub struct AnswerBody<B> {
        #[pin]
        body: B,
        stalled: Option<StalledBody>,
    }
}

impl<B: MessageBody> MessageBody for AnswerBody<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Self::Error>>> {
        self.project().body.poll_next(cx)
    }

    fn try_into_bytes(self) -> Result<Bytes, Self> {
        match self.stalled {
            None => self.body.try_into_bytes().map_err(|body| Self { body, stalled: None }),
            stalled => Err(Self { body: self.body, stalled }),
        }
    }
}

/// Wraps the app (`App::wrap_fn`): the answer to a request whose body missed its deadline carries the body's
/// reader, so actix-http finds the body unread once the answer is sent, and closes the connection
/// (`Connection: close`). Other requests cost a look into an empty map.
pub fn close_after_stalled_body<S, B>(
    req: ServiceRequest,
    app: &S,
) -> impl Future<Output = Result<ServiceResponse<AnswerBody<B>>, actix_web::Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    let answer = app.call(req);
    async move {
        let mut res = answer.await?;
        let stalled = res.request().extensions_mut().remove::<StalledBody>();
        if stalled.is_some() {
            res.response_mut().head_mut().set_connection_type(ConnectionType::Close);
        }
        Ok(res.map_body(|_, body| AnswerBody { body, stalled }))
    }
}
