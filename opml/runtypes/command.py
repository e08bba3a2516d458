"""The ``command`` run type: run a program (argv list or command line) and capture its output."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from opml.errors import Conflict, InvalidInput
from opml.runtypes.context import RunContext, RunFailed


class CommandRunType:
    name = "command"

    def validate(self, params: dict[str, Any], backend: object) -> dict[str, Any]:
        unknown = set(params) - {"command", "cwd", "env"}
        if unknown:
            raise InvalidInput(f"unknown parameter(s) for a command run: {', '.join(sorted(unknown))}")
        command = params.get("command")
        if isinstance(command, str):
            try:
                command = shlex.split(command)
            except ValueError as exc:
                raise InvalidInput(f"cannot parse the command line: {exc}") from None
        if not isinstance(command, list) or not command or not all(isinstance(part, str) for part in command):
            raise InvalidInput("'command' must be a non-empty command line or list of arguments")
        clean: dict[str, Any] = {"command": command}
        if params.get("cwd"):
            cwd = Path(str(params["cwd"])).expanduser()
            if not cwd.is_dir():
                raise InvalidInput(f"working folder {cwd} does not exist")
            clean["cwd"] = str(cwd.resolve())
        env = params.get("env") or {}
        if not isinstance(env, dict) or not all(isinstance(k, str) for k in env):
            raise InvalidInput("'env' must map variable names to values")
        if env:
            clean["env"] = {key: str(value) for key, value in env.items()}
        return clean

    def execute(self, context: RunContext) -> None:
        params = context.params
        command = params["command"]
        if command[0] == "python":
            command = [sys.executable, *command[1:]]
        context.log(f"$ {shlex.join(command)}")
        try:
            completed = subprocess.run(
                command,
                cwd=params.get("cwd") or str(context.output_dir),
                env={**os.environ, **params.get("env", {})},
                stdout=sys.stdout,
                stderr=subprocess.STDOUT,
                check=False,
            )
        except OSError as exc:
            raise RunFailed(f"cannot start {command[0]!r}: {exc.strerror}") from None
        if completed.returncode != 0:
            raise RunFailed(f"command exited with code {completed.returncode}")

    def model_files(self, host: object, run_id: str) -> tuple[str, Path]:
        raise Conflict(f"run {run_id} is a command run: it has no model to register")


COMMAND = CommandRunType()
