"""The local SMTP catcher of `valuegate dev`: aiosmtpd's own Maildir handler on a local port.

What it caught is read back by `notifications.caught_mail` for the dev-only /mail page."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox


def start_catcher(folder: Path, *, host: str = "127.0.0.1", port: int = 1025) -> Controller:
    """Start the catcher in a background thread; call `.stop()` on the result to end it.

    aiosmtpd's Mailbox handler keeps each message in the Maildir `folder`, with its envelope
    recipients in an `X-RcptTo` header (a Bcc shows there too)."""
    # Maildir makes the folder with its tmp/new/cur itself, but only when the folder is new.
    folder.parent.mkdir(parents=True, exist_ok=True)
    controller = Controller(Mailbox(folder), hostname=host, port=port)
    controller.start()
    return controller


def run_catcher(folder: Path, *, port: int) -> None:
    """Run the catcher in the foreground until SIGINT or SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    controller = start_catcher(folder, port=port)
    print(f"valuegate mail-catcher: SMTP on 127.0.0.1:{port}, mail kept in {folder}", flush=True)
    stop.wait()
    controller.stop()
