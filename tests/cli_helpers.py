"""Running the console entry point in-process, as a user's shell would."""
from __future__ import annotations

import pytest

import aekit.cli


def run_cli(argv, capsys) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `aekit ARGV`."""
    with pytest.raises(SystemExit) as e:
        aekit.cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err
