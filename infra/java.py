"""The Java and Maven the broker needs, found on PATH and checked before use."""

from __future__ import annotations

import re
import shutil
import subprocess

from infra.errors import InfraError

MIN_JAVA = 17

_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')


def java_major(version_output: str) -> int | None:
    """The major version in `java -version` output ("1.8.0_x" is 8), or None."""
    match = _VERSION.search(version_output)
    if match is None:
        return None
    major = int(match.group(1))
    # Before Java 9 versions read "1.<major>".
    return int(match.group(2) or 0) if major == 1 else major


def find_java() -> str:
    """Path of a Java 17+ executable on PATH, or InfraError saying how to get one."""
    hint = "install it (Debian: apt-get install -y openjdk-17-jre-headless)"
    java = shutil.which("java")
    if java is None:
        raise InfraError(f"Java {MIN_JAVA}+ not found on PATH; {hint}")
    try:
        done = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InfraError(
            f"Java {MIN_JAVA}+ not found: {java} -version failed ({exc}); {hint}"
        ) from None
    major = java_major(done.stderr + done.stdout)
    if major is None or major < MIN_JAVA:
        found = f"Java {major}" if major else "an unrecognised Java"
        raise InfraError(f"Java {MIN_JAVA}+ not found: {java} is {found}; {hint}")
    return java


def find_maven() -> str:
    """Path of `mvn` on PATH, or InfraError saying how to get it."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise InfraError(
            "Maven not found on PATH; it fetches the broker jars once "
            "(Debian: apt-get install -y maven)"
        )
    return mvn
