"""The Kafka Streams baseline (``bench/streams_baseline``): built once, run on our raw topic."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.ceiling import Drain
from stream.settings import Settings

POM = Path(__file__).parent / "streams_baseline" / "pom.xml"


def jar_path(settings: Settings) -> Path:
    return settings.cache_dir / "bench-streams" / "streams-baseline.jar"


def build(settings: Settings) -> Path:
    """The baseline's jar, built with Maven into the cache directory unless already there."""
    jar = jar_path(settings)
    sources = [POM, *POM.parent.rglob("*.java")]
    if jar.exists() and all(s.stat().st_mtime <= jar.stat().st_mtime for s in sources):
        return jar
    argv = ["mvn", "-q", "-B", "-f", str(POM), f"-Dbench.out={jar.parent}", "package"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0 or not jar.exists():
        raise RuntimeError(f"building the Kafka Streams baseline failed:\n{done.stdout[-2000:]}")
    return jar


def run(settings: Settings, jar: Path, topic: str, expected: int, app_id: str) -> Drain:
    """Run the baseline with one stream thread until it has drained ``expected`` messages."""
    state = Path(tempfile.mkdtemp(prefix="dojo-bench-streams-"))
    argv = [
        "java", "-Xmx1g", "-jar", str(jar), settings.kafka, topic, app_id, str(state),
        str(expected), "30",
    ]  # fmt: skip
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    finally:
        shutil.rmtree(state, ignore_errors=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"Kafka Streams baseline printed no result:\n{done.stderr[-2000:]}")
    result = json.loads(lines[-1])
    if result["outcome"] != "drained":
        raise RuntimeError(f"Kafka Streams baseline stalled: {result}")
    return Drain(result["messages"], result["events"], result["seconds"], 0.0)
