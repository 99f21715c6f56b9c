"""Exit 1 with a message when ``HOST:PORT`` cannot be served (taken by another server, or not an address of
this machine); ``make demo`` runs it before its long steps, with the machine's python3 alone.

    python3 example/check_port.py 127.0.0.1 8000
"""

import socket
import sys


def problem(host: str, port: int) -> str | None:
    """Why the demo could not listen on ``host:port``, or ``None`` when it can."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            # As the server does: a port left in TIME_WAIT by a server that just stopped is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        return f"The demo cannot listen on {host}:{port} ({exc.strerror or exc})."
    return None


if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    reason = problem(host.strip("[]"), port)
    if reason:
        sys.exit(f"{reason} Stop what uses it, or choose another port: make demo PORT={port + 1}")
