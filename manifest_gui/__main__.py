"""Entry point: `manifest-gui` with a subcommand runs the CLI, without one opens the window."""

from __future__ import annotations

import sys
from collections.abc import Sequence

# Options of the window (see ui/launch._parse); anything else is the command line's.
GUI_OPTIONS = ("--gui", "--hidden", "--no-check")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] not in GUI_OPTIONS:
        from .cli import main as cli_main

        return cli_main(args)
    from .ui.launch import main as gui_main

    return gui_main([a for a in args if a != "--gui"])


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
