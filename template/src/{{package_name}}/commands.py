"""What a command module gives the CLI: its subcommands, and a handler for each.

:mod:`.cli` parses arguments and dispatches; the modules that own a concern (drift
checks, retraining, model cards) add their own subcommands through a ``Registrar``.
Both sides import these types and this module imports neither, so no command module
imports the CLI back: the dependency points one way. The types exist for the type
checker only; at run time a registrar is any function of that shape.
"""

import argparse
from collections.abc import Callable, MutableMapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import Params
    from .paths import ProjectPaths

    #: Runs one subcommand with its parsed arguments, the project's params and paths;
    #: returns the exit status.
    Handler = Callable[[argparse.Namespace, Params, ProjectPaths], int]
    #: The CLI's subcommand parsers, to which a command module adds its own.
    Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]
    #: A command module's entry point: add its subcommands, and their handlers by name.
    Registrar = Callable[[Subcommands, MutableMapping[str, Handler]], None]
