"""A mock in its own process (`python -m mockserver serve`), for tests that kill or restart it."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from mockserver.settings import TOKENS_ENV

REPO = Path(__file__).resolve().parents[2]


async def start_process(
    db: Path, log: Path, *extra: str
) -> tuple[asyncio.subprocess.Process, str]:
    env = {k: v for k, v in os.environ.items() if k != TOKENS_ENV}
    with log.open("ab") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "mockserver", "serve", "--port", "0", "--db", str(db), *extra,
            stdout=asyncio.subprocess.PIPE, stderr=stderr, cwd=REPO, env=env,
        )
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), timeout=30)).decode()
    found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
    if found is None:
        process.kill()
        await process.wait()
        raise AssertionError(f"no address in {line!r}; stderr: {log.read_text()}")
    return process, found.group(1)
