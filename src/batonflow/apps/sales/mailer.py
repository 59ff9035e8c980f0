"""Sending mail through the configured SMTP server with `aiosmtplib`: plain, STARTTLS or TLS
from the start, with a login when the settings carry one, within the settings' timeout.

A failure is a `MailFailed` whose message names the server and what went wrong (the connection,
the TLS upgrade, the login, a refused sender or recipient, the message itself), and which
carries the server's reply code when there was one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aiosmtplib

from batonflow.apps.sales.settings import SalesSettings


@dataclass(frozen=True, slots=True)
class Reply:
    """The SMTP server's answer to the message: its code and text (`250`, `OK: queued as ...`)."""

    code: int
    message: str


class MailFailed(Exception):
    """The SMTP server did not take the message (`smtp_code` is its reply, or None); the
    caller records it on the email (it is never a request's error)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.smtp_code = code


def server_of(settings: SalesSettings) -> str:
    return f"{settings.smtp_host}:{settings.smtp_port}"


async def deliver(
    settings: SalesSettings, sender: str, recipients: Sequence[str], raw: bytes
) -> Reply:
    """Hand `raw` (a whole RFC 822 message) to the SMTP server for `recipients`."""
    server = server_of(settings)
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    client = aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        use_tls=settings.smtp_security == "tls",
        start_tls=settings.smtp_security == "starttls",
        timeout=settings.smtp_timeout,
        cert_bundle=settings.smtp_ca_file,
    )
    try:
        await client.connect()
    except aiosmtplib.SMTPException as exc:
        raise _failed(exc, f"cannot connect to the SMTP server {server}") from exc
    except OSError as exc:
        raise MailFailed(f"cannot connect to the SMTP server {server}: {exc}") from exc
    try:
        if settings.smtp_username:
            try:
                await client.login(settings.smtp_username, password or "")
            except aiosmtplib.SMTPAuthenticationError as exc:
                raise _failed(
                    exc,
                    f"the SMTP server {server} refused the login of {settings.smtp_username!r}; "
                    "check BATONFLOW_SALES_SMTP_USERNAME and BATONFLOW_SALES_SMTP_PASSWORD",
                ) from exc
        try:
            errors, message = await client.sendmail(sender, list(recipients), raw)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = "; ".join(f"{r.recipient} ({r.code} {r.message})" for r in exc.recipients)
            raise MailFailed(
                f"the SMTP server {server} refused every recipient: {refused}",
                exc.recipients[0].code if exc.recipients else None,
            ) from exc
        except aiosmtplib.SMTPSenderRefused as exc:
            raise _failed(exc, f"the SMTP server {server} refused the sender {sender!r}") from exc
        except aiosmtplib.SMTPDataError as exc:
            raise _failed(exc, f"the SMTP server {server} refused the message") from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise _failed(exc, f"the SMTP server {server} failed the exchange") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise MailFailed(f"the SMTP server {server} dropped the exchange: {exc}") from exc
        if errors:
            refused = "; ".join(f"{r} ({v.code} {v.message})" for r, v in errors.items())
            return Reply(250, f"{message}; refused: {refused}")
        return Reply(250, message)
    finally:
        if client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()


def _failed(exc: aiosmtplib.SMTPException, what: str) -> MailFailed:
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return MailFailed(f"{what}: {exc.code} {exc.message}", exc.code)
    return MailFailed(f"{what}: {exc}")
