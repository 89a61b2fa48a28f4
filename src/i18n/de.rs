//! German (Deutsch), in the polite form (Sie), as German sign-in pages address people.
use super::texts::*;

/// German.
pub const DE: Texts = Texts {
    lang: "de",
    common: Common {
        one_second: "1 Sekunde",
        seconds: Around("", " Sekunden"),
        minutes: Around("", " Minuten"),
        at_least_chars: Around("Mindestens ", " Zeichen."),
        signed_in_as: Around("Angemeldet als ", ""),
        continue_to: Around("weiter zu ", ""),
        go_to_account: "Zu Ihrer Kontoseite",
        continue_label: "Weiter",
        code: "Code",
        username: "Benutzername",
        password: "Passwort",
        new_password: "Neues Passwort",
        new_password_again: "Neues Passwort wiederholen",
        sign_in: "Anmelden",
        sign_out: "Abmelden",
        deny: "Ablehnen",
        allow: "Zulassen",
        remove: "Entfernen",
        last_used: "Zuletzt verwendet",
        too_many_sign_in_failures: Around(
            "Zu viele fehlgeschlagene Anmeldeversuche. Warten Sie ",
            " und versuchen Sie es dann erneut.",
        ),
        form_post_title: "Weiter…",
        form_post_lead: "Zurück zur Anwendung…",
        languages: "Sprache",
        change_language: "Sprache wechseln",
        sign_in_again: "Erneut anmelden",
    },
    login: Login {
        title: "Anmelden",
        lead_device: "um Ihr Gerät zu verbinden",
        lead_account: "um Ihr Konto zu verwalten",
        forgot: "Passwort vergessen?",
        new_here: "Neu hier?",
        create_account: "Konto erstellen",
        or: "oder",
        sign_in_with: Around("Anmelden mit ", ""),
        passkey: "Mit einem Passkey anmelden",
        passkey_failed: "Die Anmeldung mit einem Passkey hat nicht funktioniert. Versuchen Sie es erneut, oder melden \
                         Sie sich mit Ihrem Passwort an.",
        failed: "Benutzername und Passwort passen nicht zusammen. Versuchen Sie es erneut.",
        passkey_refused: "Dieser Passkey hat Sie nicht angemeldet. Versuchen Sie es erneut, oder melden Sie sich mit \
                          Ihrem Passwort an.",
        passkey_expired: "Die Anmeldung mit dem Passkey hat zu lange gedauert. Versuchen Sie es erneut.",
        passkey_busy: Around(
            "Zu viele Anmeldungen aus Ihrem Netzwerk. Warten Sie ",
            " und versuchen Sie es dann erneut.",
        ),
        upstream_unavailable: Around(
            "Die Anmeldung mit ",
            " hat diesmal nicht funktioniert. Versuchen Sie es erneut, oder melden Sie sich mit Ihrem Passwort an.",
        ),
        upstream_cancelled: Around("Die Anmeldung mit ", " wurde abgebrochen."),
        upstream_failed: Around("Die Anmeldung mit ", " hat nicht funktioniert."),
        upstream_failed_code: Around2("Die Anmeldung mit ", " hat nicht funktioniert (", ")."),
        email_in_use: "Es gibt bereits ein Konto mit dieser E-Mail-Adresse. Melden Sie sich mit Ihrem Passwort an.",
        account_refused: "Mit diesem Konto ist keine Anmeldung möglich.",
        unknown_provider: "Diese Anmeldemöglichkeit gibt es nicht",
        unknown_provider_text: "Kehren Sie zur Anwendung zurück und beginnen Sie die Anmeldung erneut.",
        upstream_not_again: Around(
            "",
            " hat Sie nicht erneut angemeldet, was diese Anmeldung verlangt. Versuchen Sie es noch einmal, oder melden Sie \
             sich mit Ihrem Passwort an.",
        ),
    },
    code: LoginCode {
        title: "Bestätigung in zwei Schritten",
        lead: "Geben Sie den 6-stelligen Code aus Ihrer Authenticator-App ein",
        verify: "Bestätigen",
        use_recovery: "Stattdessen einen Wiederherstellungscode verwenden",
        recovery_code: "Wiederherstellungscode",
        lost: "Gerät mit Ihrer App und Ihre Wiederherstellungscodes verloren? Bitten Sie Ihre Administration, die \
               Bestätigung in zwei Schritten für Ihr Konto auszuschalten.",
        wrong: "Dieser Code stimmt nicht. Geben Sie den Code ein, den Ihre App jetzt anzeigt.",
        gone: "Diese Anmeldung ist abgelaufen",
        gone_text: "Melden Sie sich erneut mit Ihrem Passwort an und geben Sie dann einen neuen Code ein. Oder kehren \
                    Sie zur Anwendung zurück und beginnen Sie von vorn.",
    },
    signup: SignUp {
        title: "Konto erstellen",
        email: "E-Mail-Adresse (optional)",
        name: "Anzeigename (optional)",
        password_again: "Passwort wiederholen",
        submit: "Konto erstellen",
        have_account: "Sie haben schon ein Konto?",
        manage_here: "und es hier verwalten",
        off: "Hier können keine Konten erstellt werden",
        off_text: "Auf dieser Website kann man sich kein eigenes Konto erstellen. Kehren Sie zur Anwendung zurück und \
                   melden Sie sich an, oder bitten Sie die Administration um ein Konto.",
        username_length: Around("Dieser Benutzername ist nicht möglich: Ein Benutzername hat 1 bis ", " Zeichen."),
        username_control: "Dieser Benutzername ist nicht möglich: Er darf keine Steuerzeichen und keine Leerzeichen \
                           am Anfang oder Ende enthalten.",
        username_invisible: "Dieser Benutzername ist nicht möglich: Er darf keine unsichtbaren Formatierungszeichen \
                             enthalten (Bidi-Steuerzeichen, Zeichen ohne Breite).",
        email_refused: "Das ist keine E-Mail-Adresse. Prüfen Sie sie, oder lassen Sie das Feld leer.",
        name_refused: Around(
            "Der Anzeigename darf höchstens ",
            " Bytes lang sein, ohne Steuerzeichen oder unsichtbare Formatierungszeichen. Prüfen Sie ihn, oder lassen \
             Sie das Feld leer.",
        ),
        mismatch: "Die beiden Passwörter stimmen nicht überein. Geben Sie das Passwort zweimal gleich ein.",
        taken:
            "Dieser Benutzername ist vergeben. Wählen Sie einen anderen, oder melden Sie sich an, wenn es Ihrer ist.",
        limited: Around(
            "Aus Ihrem Netzwerk wurden zu viele Konten erstellt. Warten Sie ",
            " und versuchen Sie es dann erneut.",
        ),
    },
    passwords: Passwords {
        too_short: Around("Das Passwort ist zu kurz: Verwenden Sie mindestens ", " Zeichen."),
        too_long: Around(
            "Das Passwort ist zu lang: höchstens ",
            " Bytes, also so viele einfache lateinische Buchstaben und weniger Zeichen anderer Schriften.",
        ),
        new_too_short: Around("Das neue Passwort ist zu kurz: Verwenden Sie mindestens ", " Zeichen."),
        new_too_long: Around(
            "Das neue Passwort ist zu lang: höchstens ",
            " Bytes, also so viele einfache lateinische Buchstaben und weniger Zeichen anderer Schriften.",
        ),
        new_mismatch: "Die beiden Passwörter stimmen nicht überein. Geben Sie das neue Passwort zweimal gleich ein.",
        changed_mismatch: "Die beiden neuen Passwörter stimmen nicht überein. Geben Sie das neue Passwort zweimal \
                           gleich ein.",
        current_missing: "Geben Sie Ihr aktuelles Passwort ein.",
        same_as_current: "Das neue Passwort ist Ihr aktuelles. Wählen Sie ein anderes.",
        same_as_username: "Das Passwort darf nicht Ihr Benutzername sein. Wählen Sie ein anderes.",
        same_as_email: "Das Passwort darf nicht Ihre E-Mail-Adresse sein. Wählen Sie ein anderes.",
        blocklisted: "Dieses Passwort ist zu verbreitet oder zu leicht zu erraten. Wählen Sie ein anderes.",
        reused: Around("Das Passwort ist eines Ihrer letzten ", " Passwörter. Wählen Sie ein anderes."),
        no_password: "Ihr Konto hat kein Passwort, das sich ändern ließe: Sie melden sich über einen anderen Anbieter \
                      an.",
        wrong_current: "Ihr aktuelles Passwort stimmt nicht. Ihr Passwort wurde nicht geändert.",
        too_many_failures: Around("Zu viele Fehlversuche. Warten Sie ", " und versuchen Sie es dann erneut."),
        changed_meanwhile: "Ihr Passwort wurde inzwischen an anderer Stelle geändert, deshalb hier nicht. Geben Sie \
                            das Passwort ein, das Sie jetzt haben.",
    },
    new_password: NewPassword {
        title: "Neues Passwort wählen",
        lead: "Sie haben ein vorläufiges Passwort erhalten. Wählen Sie ein eigenes, um die Anmeldung abzuschließen.",
        hint: Around("Mindestens ", " Zeichen, und nicht das vorläufige Passwort."),
        submit: "Passwort festlegen und weiter",
        gone_text: "Sie sind nicht angemeldet. Melden Sie sich erneut an und wählen Sie dann Ihr neues Passwort. Oder \
                    kehren Sie zur Anwendung zurück und beginnen Sie von vorn.",
        sign_out_others: "Von anderen Geräten abmelden",
        sign_out_others_note: "Beendet die anderen Sitzungen Ihres Kontos, als meldeten Sie sich in jeder ab; \
                               diese Anmeldung bleibt. Apps mit Offline-Zugriff behalten ihn.",
    },
    consent: Consent {
        title: "Zugriff erlauben?",
        heading: Around("", " möchte auf Ihr Konto zugreifen"),
        destination: Around("Wie auch immer Sie sich entscheiden, Sie werden weitergeleitet zu ", ""),
        will_allow: "Die Anwendung darf dann:",
        offline: "Sie behält diesen Zugriff, bis Sie ihn widerrufen, auch wenn Sie sie gerade nicht verwenden.",
        links: "Links des App-Entwicklers:",
        website: "Website",
        privacy_policy: "Datenschutzerklärung",
        terms: "Nutzungsbedingungen",
        scope_openid: "Bestätigen, wer Sie sind (Ihre Kontokennung)",
        scope_profile: "Ihren Namen und Benutzernamen sehen",
        scope_email: "Ihre E-Mail-Adresse sehen",
        scope_offline_access: "Zugriff behalten, während Sie die App nicht verwenden",
        scope_groups: "Ihre Gruppenmitgliedschaften sehen",
        scope_other: Around("Auf „", "“ zugreifen"),
        claim_name: "Ihren Namen sehen",
        claim_preferred_username: "Ihren Benutzernamen sehen",
        claim_updated_at: "Sehen, wann Ihr Profil zuletzt geändert wurde",
        claim_email_verified: "Sehen, ob Ihre E-Mail-Adresse bestätigt ist",
        claim_other: Around("Ihr „", "“ sehen"),
    },
    device: Device {
        title: "Gerät verbinden",
        lead: "Geben Sie den Code ein, den Ihr Gerät anzeigt.",
        hint: "8 Buchstaben, etwa BCDF-GHJK. Geben Sie nur einen Code ein, den Sie auf einem eigenen Gerät sehen.",
        confirm_title: "Gerät verbinden?",
        confirm_heading: Around("Ein Gerät möchte ", " mit Ihrem Konto verwenden"),
        code_shown: Around("Code: ", ". Prüfen Sie, ob Ihr Gerät denselben Code anzeigt."),
        warning: "Fahren Sie nur fort, wenn Sie dies gerade eben auf einem eigenen Gerät begonnen haben. Wenn Ihnen \
                  jemand diesen Code geschickt oder Sie gebeten hat, ihn einzugeben, lehnen Sie ab: Diese Person \
                  bekäme Zugriff auf Ihr Konto.",
        connected: "Gerät verbunden",
        connected_text: Around("Sie können zu Ihrem Gerät zurückkehren: ", " kann Ihr Konto dort jetzt verwenden."),
        remove_later: Around("Sie können den Zugriff jederzeit auf ", " entfernen."),
        account_page: "Ihrer Kontoseite",
        denied: "Zugriff abgelehnt",
        denied_text: "Das Gerät hat keinen Zugriff auf Ihr Konto erhalten. Sie können dieses Fenster schließen.",
        not_found: "Dieser Code ist ungültig: Er ist vielleicht abgelaufen oder wurde schon verwendet. Prüfen Sie den \
                    Code auf Ihrem Gerät, oder beginnen Sie dort von vorn, um einen neuen zu erhalten.",
        code_empty: "Geben Sie den Code ein, den Ihr Gerät anzeigt",
        code_malformed: "Das ist kein Code dieses Servers: Codes bestehen aus 8 Buchstaben, etwa BCDF-GHJK",
        too_many_codes: Around(
            "Aus Ihrem Netzwerk wurden zu viele Codes eingegeben. Warten Sie ",
            " und versuchen Sie es dann erneut.",
        ),
        signed_out: "Sie sind abgemeldet",
        signed_out_text: "Sie wurden abgemeldet, bevor Sie geantwortet haben. Geben Sie den Code auf Ihrem Gerät \
                          erneut ein.",
    },
    logout: Logout {
        title: "Abmelden?",
        asks: Around("", " bittet Sie, sich abzumelden."),
        question: "Möchten Sie sich abmelden?",
        stay: "Angemeldet bleiben",
        signed_out_title: "Abgemeldet",
        signed_out: "Sie sind abgemeldet",
        taking_you_on: "Sie werden von Ihren Apps abgemeldet und dann weitergeleitet.",
        close: "Sie können dieses Fenster schließen.",
        frame: "Abmeldung von einer App",
        still_title: "Weiterhin angemeldet",
        still: "Sie sind weiterhin angemeldet",
        nothing_changed: "Nichts wurde geändert: Die App, die Sie um die Abmeldung gebeten hat, hat davon nichts \
                          erfahren.",
        form_refused: "Das Abmeldeformular stammt nicht von dieser Website.",
    },
    error: Errors {
        details: "Angaben für den Entwickler der Anwendung:",
        error: "Fehler:",
        request_id: "Anfrage-ID:",
        sign_in_refused: "Diese Anmeldeanfrage kann nicht abgeschlossen werden",
        sign_out_refused: "Diese Abmeldeanfrage kann nicht abgeschlossen werden",
        refused_text: "Kehren Sie zur Anwendung zurück und versuchen Sie es erneut.",
        server: "Etwas ist schiefgegangen",
        unavailable: "Vorübergehend nicht verfügbar",
        try_later: "Versuchen Sie es gleich noch einmal.",
        expired: "Dieser Anmeldelink ist abgelaufen",
        expired_text: "Kehren Sie zur Anwendung zurück und beginnen Sie die Anmeldung erneut.",
        invalid_link: "Dieser Anmeldelink ist ungültig",
        invalid_link_text: "Der Link führt nirgendwohin auf dieser Website. Kehren Sie zur Anwendung zurück und \
                            beginnen Sie die Anmeldung erneut, oder gehen Sie zu Ihrer Kontoseite.",
        cookies_blocked: "Für die Anmeldung werden Cookies benötigt",
        cookies_blocked_text: "Ihr Browser hat das Cookie dieser Website nicht gesendet. Erlauben Sie in Ihrem \
                               Browser Cookies für diese Website, kehren Sie dann zur Anwendung zurück und beginnen \
                               Sie die Anmeldung erneut.",
        forbidden: "Dieses Formular kann nicht angenommen werden",
        forbidden_text: "Das Formular stammt nicht von dieser Website. Kehren Sie zur Anwendung zurück und versuchen \
                         Sie es erneut.",
        out_of_date: "Nichts wurde geändert",
        out_of_date_text: "Diese Seite war veraltet. Laden Sie Ihre Kontoseite neu und versuchen Sie es erneut.",
        signed_out: "Sie sind abgemeldet",
        signed_out_text: "Nichts wurde geändert. Laden Sie die Seite neu und melden Sie sich erneut an.",
        too_many_sign_ins: "Zu viele Anmeldeanfragen",
        too_many_sign_ins_text: Around(
            "Aus Ihrem Netzwerk wurden zu viele Anmeldungen begonnen. Warten Sie ",
            " und versuchen Sie es dann erneut.",
        ),
        sign_ins_full_text: Around(
            "Gerade laufen zu viele Anmeldungen. Warten Sie ",
            " und versuchen Sie es dann erneut.",
        ),
    },
    reset: Reset {
        check_mail: "Sehen Sie in Ihr Postfach",
        title: "Passwort zurücksetzen",
        sent: Around(
            "Wenn es ein Konto mit diesem Benutzernamen oder dieser E-Mail-Adresse gibt und es eine E-Mail-Adresse \
             hat, haben wir ihm einen Link geschickt, mit dem Sie ein neues Passwort wählen können. Der Link \
             funktioniert ",
            " Minuten lang, einmal.",
        ),
        back: "Zurück zur Anmeldung",
        lead: "Wir schicken einen Link, mit dem Sie ein neues Passwort wählen können, an die E-Mail-Adresse Ihres \
               Kontos.",
        login: "Benutzername oder E-Mail-Adresse",
        send: "Link senden",
        enter_login: "Geben Sie Ihren Benutzernamen oder Ihre E-Mail-Adresse ein.",
        limited: Around(
            "Aus Ihrem Netzwerk kamen zu viele Anfragen zum Zurücksetzen. Warten Sie ",
            " und versuchen Sie es dann erneut.",
        ),
        off: "Passwörter können hier nicht zurückgesetzt werden",
        off_text: "Diese Website verschickt keine E-Mails und kann daher keinen Link zum Zurücksetzen Ihres Passworts \
                   senden. Wenden Sie sich an die Administration.",
        invalid: "Dieser Link zum Zurücksetzen des Passworts funktioniert nicht",
        invalid_text: "Er wurde schon verwendet, ist abgelaufen, oder Ihr Passwort wurde seit dem Versand geändert. \
                       Wählen Sie auf der Anmeldeseite erneut „Passwort vergessen?“ und verwenden Sie den Link der \
                       neuen E-Mail.",
        changed: "Passwort geändert",
        changed_text: "Ihr neues Passwort ist gesetzt, und Sie wurden überall abgemeldet.",
        go_back: "Kehren Sie zur Anwendung zurück und melden Sie sich mit Ihrem neuen Passwort an.",
        choose: "Neues Passwort wählen",
        signs_out: "Wenn Sie es setzen, werden Sie überall abgemeldet.",
        submit: "Passwort setzen",
    },
    verify: Verify {
        title: "E-Mail-Adresse bestätigen",
        lead: "Bestätigen Sie, dass die Adresse, an die dieser Link geschickt wurde, Ihnen gehört; dann können sich \
               Apps, bei denen Sie sich anmelden, darauf verlassen.",
        submit: "Meine Adresse bestätigen",
        off: "E-Mail-Adressen können hier nicht bestätigt werden",
        off_text: "Diese Website verschickt keine E-Mails und kann daher keinen Link zur Bestätigung Ihrer \
                   E-Mail-Adresse senden.",
        invalid: "Dieser Bestätigungslink funktioniert nicht",
        invalid_text: "Er wurde schon verwendet, ist abgelaufen, oder die E-Mail-Adresse Ihres Kontos wurde seit dem \
                       Versand geändert. Auf Ihrer Kontoseite können Sie für eine unbestätigte Adresse einen neuen \
                       Link anfordern.",
        done: "Ihre E-Mail-Adresse ist bestätigt",
        done_text: "Danke: Apps, bei denen Sie sich anmelden, können sich jetzt darauf verlassen.",
        limited: Around(
            "An Ihre Adresse wurden zu viele Bestätigungslinks geschickt. Warten Sie ",
            " und versuchen Sie es dann erneut.",
        ),
    },
    otp: Otp {
        setup_title: "Bestätigung in zwei Schritten einrichten",
        setup_lead: "Fügen Sie dieses Konto einer Authenticator-App auf Ihrem Telefon hinzu",
        needed:
            "Für die Anmeldung hier ist die Bestätigung in zwei Schritten nötig. Richten Sie sie jetzt ein, um die \
                 Anmeldung abzuschließen.",
        scan: "Fügen Sie in Ihrer App ein Konto hinzu und scannen Sie diesen QR-Code:",
        qr_label: "QR-Code zum Scannen mit Ihrer Authenticator-App",
        type_key: "Oder geben Sie diesen Schlüssel ein:",
        enter_code: "Geben Sie den 6-stelligen Code ein, den die App dafür anzeigt.",
        turn_on: "Einschalten",
        pending_note: "Nichts ändert sich, bevor ein Code bestätigt ist. Ohne ihn sind Sie nicht angemeldet, und die \
                       nächste Anmeldung fragt erneut.",
        cancel: "Abbrechen",
        cancel_note: ": Nichts ändert sich, bevor ein Code bestätigt ist.",
        not_right:
            "Dieser Code stimmt nicht. Prüfen Sie, ob Ihre App das eben hinzugefügte Konto zeigt, und geben Sie \
                    dessen aktuellen Code ein.",
        renewed_title: "Neue Wiederherstellungscodes",
        on_title: "Die Bestätigung in zwei Schritten ist eingeschaltet",
        save_codes: "Speichern Sie Ihre Wiederherstellungscodes",
        earlier_gone: "Ihre bisherigen Wiederherstellungscodes funktionieren nicht mehr.",
        now_asks: "Bei der Anmeldung wird jetzt nach Ihrem Passwort ein Code aus Ihrer Authenticator-App abgefragt.",
        codes_explained: "Wenn Sie Ihr Telefon verlieren, melden Sie sich mit einem dieser Codes statt mit dem Code \
                          der App an. Jeder funktioniert einmal. Bewahren Sie sie sicher auf: Sie werden nur jetzt \
                          angezeigt.",
        continue_signing_in: "Anmeldung fortsetzen",
        back_to_account: "Zurück zu Ihrem Konto",
        setup_expired: "Einrichtung abgelaufen",
        setup_expired_text: "Nichts wurde geändert. Beginnen Sie die Einrichtung erneut auf Ihrer Kontoseite.",
        required: "Die Bestätigung in zwei Schritten ist vorgeschrieben",
        required_text: "Für die Anmeldung mit Passwort ist hier die Bestätigung in zwei Schritten nötig, deshalb \
                        bleibt sie eingeschaltet. Wenn Sie Ihr Telefon verloren haben, melden Sie sich mit einem \
                        Wiederherstellungscode an, oder bitten Sie Ihre Administration, sie zurückzusetzen.",
        still_on: "Die Bestätigung in zwei Schritten ist weiterhin eingeschaltet.",
        codes_unchanged: "Ihre Wiederherstellungscodes sind unverändert.",
        wrong: "Dieser Code stimmt nicht",
        enter_current: "Geben Sie den Code ein, den Ihre App jetzt anzeigt.",
        too_many: "Zu viele Versuche",
        too_many_text: Around("Zu viele falsche Codes. Warten Sie ", " und versuchen Sie es dann erneut."),
        already_on: "Die Bestätigung in zwei Schritten ist bereits aktiviert",
        already_on_text: "Nichts wurde geändert. Um eine andere Authenticator-App zu verwenden, deaktivieren Sie die \
                          Bestätigung in zwei Schritten zuerst mit einem Code der App, die Sie haben.",
    },
    account: Account {
        title: "Ihr Konto",
        sessions: "Sitzungen",
        no_sessions: "Keine aktiven Sitzungen.",
        sessions_note: "„Zuletzt verwendet“ ist der Zeitpunkt, an dem dieser Browser die Sitzung hier zuletzt \
                        verwendet hat, auf eine Minute genau; Zugriffe von Apps zählen nicht. Wenn Sie eine Sitzung \
                        beenden, wird dieser Browser abgemeldet. Apps mit Offline-Zugriff behalten ihn: Entfernen Sie \
                        ihren Zugriff unter „Verbundene Apps“.",
        current: "aktuelle Sitzung",
        idle: "inaktiv",
        idle_note: "Zu lange nicht verwendet: Dieser Browser muss sich erneut anmelden. Apps, bei denen Sie sich dort \
                    angemeldet haben, behalten ihren Zugriff, bis die Sitzung abläuft oder Sie sie beenden.",
        ip: "IP-Adresse",
        unknown: "Unbekannt",
        started: "Begonnen",
        signed_in: "Angemeldet",
        expires: "Läuft ab",
        sign_out_this: "Von dieser Sitzung abmelden",
        end_session_of: Around("Sitzung beenden: ", ""),
        at_ip: Around(" von ", ""),
        started_at: Around(", begonnen ", ""),
        end_session: "Sitzung beenden",
        email: "E-Mail-Adresse",
        verified: "bestätigt",
        not_verified: "nicht bestätigt",
        send_verification: "Bestätigungslink senden",
        password: "Passwort",
        current_password: "Aktuelles Passwort",
        sign_out_others: "Überall sonst abmelden",
        sign_out_others_note: "Beendet Ihre anderen Sitzungen, als hätten Sie jede oben beendet; diese bleibt. Apps \
                               mit Offline-Zugriff behalten ihn.",
        change_password: "Passwort ändern",
        no_password: "Ihr Konto hat kein Passwort: Sie melden sich über einen anderen Anbieter an.",
        otp: "Bestätigung in zwei Schritten",
        otp_on: "Ein: Bei der Anmeldung mit Ihrem Passwort wird auch ein Code aus Ihrer Authenticator-App abgefragt.",
        otp_stays_on: "Sie ist hier vorgeschrieben und bleibt deshalb eingeschaltet.",
        otp_off_code: "Aktueller Code, um sie auszuschalten",
        turn_off: "Ausschalten",
        otp_recovery_code: "Aktueller Code, für neue Wiederherstellungscodes",
        otp_recovery_note: "Zehn neue Codes ersetzen alle bisherigen, ob verwendet oder nicht.",
        new_recovery_codes: "Neue Wiederherstellungscodes",
        otp_off: "Aus.",
        otp_off_required: "Sie ist hier vorgeschrieben: Ihre nächste Anmeldung mit Passwort fordert Sie auf, sie \
                           einzurichten; Sie können sie auch jetzt einrichten.",
        otp_off_explained: "Wenn sie eingeschaltet ist, wird bei der Anmeldung mit Ihrem Passwort auch ein \
                            6-stelliger Code aus einer Authenticator-App auf Ihrem Telefon abgefragt.",
        set_up: "Einrichten",
        passkeys: "Passkeys",
        passkeys_note: "Ein Passkey meldet Sie mit der Bildschirmsperre Ihres Geräts oder einem Sicherheitsschlüssel \
                        an, ohne Passwort und ohne Code.",
        added: "Hinzugefügt",
        never: "Nie",
        remove_passkey: Around("Passkey ", " entfernen"),
        passkey_name: "Name des neuen Passkeys",
        passkey_name_hint: "Um Ihre Passkeys auseinanderzuhalten, etwa das Gerät, auf dem er liegt.",
        add_passkey: "Passkey hinzufügen",
        passkey_unsupported: "Zum Hinzufügen eines Passkeys brauchen Sie einen Browser, der Passkeys unterstützt, mit \
                              eingeschaltetem JavaScript.",
        passkey_add_failed: "Der Passkey wurde nicht hinzugefügt. Versuchen Sie es erneut.",
        apps: "Verbundene Apps",
        no_apps: "Keine App hat Zugriff auf Ihr Konto.",
        connected_since: Around("Verbunden seit ", ""),
        it_can: "Sie darf:",
        app_offline: "Sie behält diesen Zugriff, während Sie sie nicht verwenden (Offline-Zugriff).",
        remove_access_for: Around("Zugriff entfernen für ", ""),
        remove_access: "Zugriff entfernen",
        groups: "Gruppen",
        groups_note: "Ihre Administration hat Sie in diese Gruppen aufgenommen. Apps, denen Sie erlauben, Ihre \
                      Gruppenmitgliedschaften zu sehen, erhalten deren Namen.",
        identities: "Anmeldung mit anderen Konten",
        identities_note: "Sie können sich hier mit diesen Konten anmelden. Wenn Sie eines entfernen, bleibt Ihnen \
                          mindestens ein Weg zur Anmeldung: ein Passwort oder ein anderes Konto.",
        linked: "Verknüpft",
        remove_sign_in_with: Around("Anmeldung mit ", " entfernen"),
        no_longer_with: Around("Sie können sich nicht mehr mit ", " anmelden."),
        session_ended: "Von dieser Sitzung abgemeldet.",
        otp_turned_off: "Die Bestätigung in zwei Schritten ist ausgeschaltet.",
        password_changed: "Ihr Passwort ist geändert.",
        password_changed_others: "Ihr Passwort ist geändert, und Ihre anderen Sitzungen sind abgemeldet.",
        passkey_added: "Passkey hinzugefügt. Sie können sich jetzt damit anmelden.",
        passkey_removed: "Passkey entfernt.",
        verification_sent: "Wir haben einen Bestätigungslink an Ihre E-Mail-Adresse geschickt.",
        access_removed: Around("Zugriff entfernt für ", "."),
        no_session_chosen: "Keine Sitzung ausgewählt",
        no_app_chosen: "Keine App ausgewählt",
        no_sign_in_chosen: "Keine Anmeldung ausgewählt",
        try_again: "Kehren Sie zu Ihrem Konto zurück und versuchen Sie es erneut.",
        last_way_in: "Dies ist Ihr einziger Weg zur Anmeldung: Er wurde nicht entfernt. Bitten Sie die \
                      Administration, Ihnen ein Passwort zu setzen, oder verknüpfen Sie zuerst ein anderes Konto.",
        last_way_in_passkeys: "Dies ist Ihr einziger Weg zur Anmeldung: Er wurde nicht entfernt. Bitten Sie die \
                               Administration, Ihnen ein Passwort zu setzen, oder fügen Sie zuerst einen Passkey \
                               hinzu oder verknüpfen Sie ein anderes Konto.",
        last_passkey: "Dieser Passkey ist Ihr einziger Weg zur Anmeldung: Er wurde nicht entfernt. Fügen Sie zuerst \
                       einen anderen Passkey hinzu, oder bitten Sie die Administration, Ihnen ein Passwort zu setzen.",
        passkey_gone: "Das Hinzufügen des Passkeys hat zu lange gedauert oder war schon erledigt. Nichts wurde \
                       hinzugefügt.",
        passkey_refused: "Die Antwort Ihres Geräts konnte nicht geprüft werden. Nichts wurde hinzugefügt: Versuchen \
                          Sie es erneut.",
        passkey_duplicate: "Dieser Passkey ist schon hinzugefügt. Nichts wurde hinzugefügt.",
        passkeys_off: "Passkeys sind auf diesem Server nicht verfügbar.",
        passkey_name_empty: "Geben Sie dem Passkey einen Namen, etwa das Gerät, auf dem er liegt.",
        passkey_name_too_long: "Der Name darf höchstens 64 Zeichen lang sein.",
        passkey_name_hidden: "Der Name darf keine Steuerzeichen oder unsichtbaren Formatierungszeichen enthalten.",
        device_on: Around2("", " unter ", ""),
        unknown_browser: "Unbekannter Browser",
        unknown_browser_on: Around("Unbekannter Browser unter ", ""),
        unknown_device: "Unbekanntes Gerät",
        amr_pwd: "Passwort",
        amr_otp: "Einmalcode",
        sign_in_first: "Melden Sie sich zuerst erneut an",
        otp_sign_in_first: Around(
            "Um die Bestätigung in zwei Schritten einzurichten, melden Sie sich zuerst erneut an: Ihre letzte \
             Anmeldung liegt mehr als ",
            " zurück.",
        ),
        passkey_sign_in_first: Around(
            "Um einen Passkey hinzuzufügen, melden Sie sich zuerst erneut an: Ihre letzte Anmeldung liegt mehr als ",
            " zurück.",
        ),
    },
    deletion: Deletion {
        heading: "Konto löschen",
        note: "Wenn Sie Ihr Konto löschen, werden Sie überall abgemeldet, und jede App, die Sie damit verwenden, \
               verliert ihren Zugriff (sie wird benachrichtigt). Ihre Anmeldemethoden, Passkeys, die Bestätigung in \
               zwei Schritten und Ihre Gruppenmitgliedschaften werden mit gelöscht. Das lässt sich nicht rückgängig \
               machen.",
        sign_in_first: Around(
            "Um Ihr Konto zu löschen, melden Sie sich zuerst erneut an: Ihre letzte Anmeldung liegt mehr als ",
            " zurück.",
        ),
        password: "Ihr Passwort, zur Bestätigung, dass Sie es sind",
        no_password: "Sie haben sich gerade erst angemeldet, deshalb wird kein Passwort abgefragt.",
        confirm: "Mir ist bewusst, dass mein Konto endgültig gelöscht wird",
        submit: "Mein Konto löschen",
        off: "Konten können hier nicht gelöscht werden",
        off_text:
            "Auf dieser Website können Sie Ihr Konto nicht selbst löschen. Wenden Sie sich an die Administration.",
        not_confirmed: "Setzen Sie das Häkchen, um zu bestätigen, dass Sie das verstanden haben. Es wurde nichts \
                        gelöscht.",
        password_missing: "Geben Sie Ihr Passwort ein, um Ihr Konto zu löschen. Es wurde nichts gelöscht.",
        wrong_password: "Ihr Passwort stimmt nicht. Es wurde nichts gelöscht.",
        too_old: "Ihre letzte Anmeldung liegt zu lange zurück: Melden Sie sich erneut an und löschen Sie dann Ihr \
                  Konto. Es wurde nichts gelöscht.",
        deleted_title: "Konto gelöscht",
        deleted: "Ihr Konto wurde gelöscht",
        deleted_text: "Sie sind überall abgemeldet, und Apps haben keinen Zugriff mehr darauf. Sie können dieses \
                       Fenster schließen.",
    },
    mail: Mail {
        hello: Around("Hallo ", ","),
        copy_link: "Falls sich der Link nicht öffnet, kopieren Sie diese Adresse in Ihren Browser:",
        minutes: Around("", " Minuten"),
        hours: Around("", " Stunden"),
        reset_subject: "Passwort zurücksetzen",
        reset_asked: Around(
            "jemand, vermutlich Sie, hat darum gebeten, das Passwort Ihres Kontos ",
            " zurückzusetzen.",
        ),
        reset_open: Around("Um ein neues Passwort zu wählen, öffnen Sie diesen Link innerhalb von ", ":"),
        reset_button: "Neues Passwort wählen",
        reset_once: "Der Link funktioniert einmal. Wenn Sie ein neues Passwort setzen, werden Sie überall abgemeldet.",
        reset_ignore: "Wenn Sie das nicht angefordert haben, ignorieren Sie diese E-Mail: Ihr Passwort bleibt, wie es \
                       ist.",
        verify_subject: "E-Mail-Adresse bestätigen",
        verify_open: Around2(
            "um zu bestätigen, dass dies die E-Mail-Adresse Ihres Kontos ",
            " ist, öffnen Sie diesen Link innerhalb von ",
            ":",
        ),
        verify_button: "Meine E-Mail-Adresse bestätigen",
        verify_once: "Der Link funktioniert einmal. Wenn Sie das nicht angefordert haben, ignorieren Sie diese E-Mail.",
        deleted_subject: "Ihr Konto wurde gelöscht",
        deleted_text: Around(
            "Ihr Konto ",
            " wurde auf Ihren Wunsch gelöscht. Sie sind überall abgemeldet, und die Apps, die Sie damit verwendet \
             haben, haben keinen Zugriff mehr.",
        ),
        deleted_not_you: "Wenn Sie es nicht gelöscht haben, wenden Sie sich an die Administration dieser Website.",
    },
};
