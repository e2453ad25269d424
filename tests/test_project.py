"""Project promises: README set-up commands, CI calls the README test command, no torch import."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Set-up on a fresh machine", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)\n```", section, flags=re.S)


def test_readme_has_exactly_two_setup_commands():
    commands = readme_commands()
    assert len(commands) == 2 and all("\n" not in c for c in commands)
    assert "cfasim generate --pattern nona" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert readme_commands()[1] in ci.splitlines()


def test_cfasim_imports_without_torch():
    code = (
        "import sys, cfasim, cfasim.cli, cfasim.store.schema, cfasim.sim.simulate, "
        "cfasim.pipeline;"
        "sys.exit('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_training_stack_present_in_ci():
    """CI installs the dev and train extras: optional-dependency tests must run there."""
    import os

    if os.environ.get("CI"):
        import mlcroissant  # noqa: F401
        import onnxruntime  # noqa: F401
        import rawpy  # noqa: F401
        import torch  # noqa: F401
