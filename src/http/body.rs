//! Request bodies within [`BODY_DEADLINE`]. actix-web bounds how long a client may take over the request head
//! (`client_request_timeout`), not over the body: a client that sent the head and then stopped held its
//! connection, and a file descriptor, for good. Every body reader (`form::Body`, the JSON readers of the
//! registration and admin APIs) stops at the deadline; the endpoint answers `invalid_request` in its own
//! shape, and [`close_after_unread_body`] makes that answer the last on the connection.
use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{self, Service, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use actix_web::{web, HttpMessage};
use futures_util::{Stream, StreamExt};
use pin_project_lite::pin_project;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// How long a client has to send a whole request body once its head has arrived.
pub const BODY_DEADLINE: Duration = Duration::from_secs(10);

/// A body not all sent within [`BODY_DEADLINE`].
#[derive(Debug)]
pub struct Late;

pin_project! {
    /// `read`, a future that reads a body, given until [`BODY_DEADLINE`]. The timer is set only when the body
    /// is not all there at the first poll, so a request that arrives in one piece, as token requests do, costs
    /// none.
    pub struct WithinDeadline<F> {
        read: Option<F>,
        #[pin]
        timer: Option<Sleep>,
    }
}

impl<F> WithinDeadline<F> {
    /// `read`, given until the deadline.
    pub fn new(read: F) -> Self {
        Self { read: Some(read), timer: None }
    }
}

impl<F: Future + Unpin> Future for WithinDeadline<F> {
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
        *this.read = None;
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

/// The body of `payload`, at most `limit` bytes, sent within [`BODY_DEADLINE`].
pub async fn read(mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, Unread> {
    let deadline = Instant::now() + BODY_DEADLINE;
    let mut body = Vec::new();
    loop {
        let chunk = match tokio::time::timeout_at(deadline, payload.next()).await {
            Ok(Some(chunk)) => chunk.map_err(|_| Unread::Broken)?,
            Ok(None) => return Ok(body),
            Err(_) => return Err(Unread::Late),
        };
        if body.len() + chunk.len() > limit {
            return Err(Unread::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
}

/// A chunked request body, shared by the app, which reads it, and [`close_after_unread_body`], which keeps it
/// until the answer is sent.
struct SharedBody(Rc<RefCell<dev::Payload>>);

impl Stream for SharedBody {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.borrow_mut().poll_next_unpin(cx)
    }
}

pin_project! {
    /// A response body, holding the request's chunked body, if it had one, until it has been sent.
    pub struct AnswerBody<B> {
        #[pin]
        body: B,
        request_body: Option<Rc<RefCell<dev::Payload>>>,
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
        match self.request_body {
            None => self.body.try_into_bytes().map_err(|body| Self { body, request_body: None }),
            request_body => Err(Self { body: self.body, request_body }),
        }
    }
}

/// Wraps the app (`App::wrap_fn`) so that no request body left unread holds its connection. When the answer
/// has been sent, actix-http closes a connection whose request body is unread (`Connection: close`), but
/// drains a chunked body that nothing reads any more, to reuse the connection, and a client that stopped
/// sending never ends that: a body that missed its deadline, or one sent to an endpoint that reads none. So
/// a chunked body is kept until the answer has been sent. Requests with a body of known length, the token
/// requests among them, are passed as they are.
pub fn close_after_unread_body<S, B>(
    mut req: ServiceRequest,
    app: &S,
) -> impl Future<Output = Result<ServiceResponse<AnswerBody<B>>, actix_web::Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    let request_body = req.chunked().unwrap_or(false).then(|| {
        let body = Rc::new(RefCell::new(req.take_payload()));
        req.set_payload(dev::Payload::Stream { payload: Box::pin(SharedBody(Rc::clone(&body))) });
        body
    });
    let answer = app.call(req);
    async move {
        let res = answer.await?;
        Ok(res.map_body(|_, body| AnswerBody { body, request_body }))
    }
}
