"""Serving the demo: the web server, the job worker and the periodic escalation, as child processes."""

import os
import signal
import subprocess
import sys


def _command(*args) -> list[str]:
    return [sys.executable, "-m", "fangkong.cli", *args]


class _Stop(Exception):
    pass


def _raise_stop(signum, frame):
    raise _Stop


def run(port: int, stdout, *, escalate_every: int = 300) -> int:
    """Run the server until it exits, Ctrl-C or SIGTERM; the worker and the periodic loop go with it."""
    # Installed explicitly: a shell's background job starts with SIGINT ignored.
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    env = {**os.environ, "FANGKONG_DEMO": "1", "DJANGO_SETTINGS_MODULE": "fangkong.settings"}
    server = subprocess.Popen(_command("runserver", f"127.0.0.1:{port}", "--noreload"), env=env)
    helpers = [
        subprocess.Popen(_command("db_worker"), env=env),
        subprocess.Popen(_command("periodic", "--every", str(escalate_every)), env=env),
    ]
    stdout.write("服务已启动，按 Ctrl-C 停止。")
    code = 0
    try:
        code = server.wait()
    except (_Stop, KeyboardInterrupt):
        stdout.write("\n正在停止……")
    finally:
        for child in [server, *helpers]:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in [server, *helpers]:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    return code
