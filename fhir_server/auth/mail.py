"""Sending the server's emails (password-reset links) through the SMTP server of the settings (stdlib ``smtplib``).

Configured by ``FHIR_SERVER_SMTP_HOST`` (unset: nothing is ever sent), ``_PORT``, ``_USERNAME``, ``_PASSWORD``,
``_FROM``, ``_TLS`` (``starttls``, ``ssl`` or ``none``) and ``_TIMEOUT``. A failure is logged (never with the message
body, which may hold a secret link) and not raised: the sender runs after the answer went out.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage

from fhir_server.settings import Settings

log = logging.getLogger(__name__)


def can_send(settings: Settings) -> bool:
    """Whether an SMTP server is configured."""
    return settings.smtp_host is not None


def send(settings: Settings, to: str, subject: str, text: str) -> bool:
    """Send a plain-text email; True when the SMTP server accepted it (False, logged, when it failed)."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = settings.smtp_from, to, subject
    message.set_content(text)
    try:
        with _connect(settings) as smtp:
            if settings.smtp_username:
                password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                smtp.login(settings.smtp_username, password)
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        log.error("could not send an email to %s through %s: %s", to, settings.smtp_host, exc)
        return False
    return True


def _connect(settings: Settings) -> smtplib.SMTP:
    host, port, timeout = settings.smtp_host or "", settings.smtp_port, settings.smtp_timeout
    if settings.smtp_tls == "ssl":
        return smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    smtp = smtplib.SMTP(host, port, timeout=timeout)
    if settings.smtp_tls == "starttls":
        try:
            smtp.starttls(context=ssl.create_default_context())
        except (OSError, smtplib.SMTPException):
            smtp.close()
            raise
    return smtp
