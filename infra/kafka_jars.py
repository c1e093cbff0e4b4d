"""The Kafka broker's jars: fetched once from Maven Central into the cache dir.

The official artifacts (``org.apache.kafka:kafka_2.13`` and its dependencies, listed by
``pom.xml``) are copied by Maven into ``<cache>/kafka-<version>/libs``; a ``complete`` marker,
written last, tells a finished download from an interrupted one.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from infra import daemon
from infra.daemon import Echo
from infra.errors import InfraError
from infra.java import find_java, find_maven
from stream.settings import Settings

POM = Path(__file__).resolve().parent / "pom.xml"
# Maven needs ~20 s on a good line; a slow mirror gets generous time before we give up.
FETCH_TIMEOUT_S = 900


def libs_dir(settings: Settings) -> Path:
    """Where the broker jars for ``settings.kafka_version`` are cached."""
    return settings.cache_dir / f"kafka-{settings.kafka_version}" / "libs"


def fetch(settings: Settings, *, echo: Echo = print) -> Path:
    """Download the broker jars once into the cache dir; return the libs directory."""
    libs = libs_dir(settings)
    marker = libs.parent / "complete"
    if marker.exists():
        return libs
    with daemon.locked(libs.parent / ".lock", timeout=FETCH_TIMEOUT_S):
        if marker.exists():  # fetched by a concurrent call while we waited
            return libs
        find_java()
        mvn = find_maven()
        echo(f"kafka: downloading Apache Kafka {settings.kafka_version} jars (once) ...")
        partial = libs.with_name("libs.partial")
        shutil.rmtree(partial, ignore_errors=True)
        argv = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(POM),
            f"-Dkafka.version={settings.kafka_version}",
            "dependency:copy-dependencies",
            f"-DoutputDirectory={partial}",
        ]
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=FETCH_TIMEOUT_S, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise InfraError(f"download failed: {exc}") from None
        jars = list(partial.glob("kafka_2.13-*.jar")) if partial.is_dir() else []
        if done.returncode != 0 or not jars:
            output = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
            raise InfraError(
                f"download failed: mvn exited {done.returncode} fetching Kafka "
                f"{settings.kafka_version} from Maven Central\n{output or '(no output)'}"
            )
        shutil.rmtree(libs, ignore_errors=True)
        partial.replace(libs)
        # Written last: a crash mid-download leaves no marker, so the next call retries.
        marker.write_text(settings.kafka_version + "\n")
        echo(f"kafka: jars cached in {libs}")
    return libs
