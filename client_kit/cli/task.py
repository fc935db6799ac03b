"""`fedstake task init`: a task package from a declarative spec, no Python needed.

The spec comes from a JSON file (`--spec`), from flags, or both (flags win):
the model (`--model mlp --input 64 --hidden 64 --classes 10`, or any
`ModelSpec` in the JSON), the training config, and the pool's aggregation
rule with its parameters (`--rule trimmed_mean --rule-param beta=0.1`).

client_kit checks the package's shape; the values of the rule's parameters
are the operator's to judge. `make_task_app(check_rule)` takes that check as
a callback, and the `fedstake` command (`offchain.cli`) passes the operator
registry's, so a package it writes is one an operator can run — while
client_kit itself never imports the operator runtime.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from client_kit.cli.output import emit
from client_kit.cli.session import Session, read_input_file
from client_kit.errors import InvalidInput
from client_kit.sealing import ROUND_KEYS_FOLDER, RoundKeyStore
from client_kit.training.task import (
    DEFAULT_RULE,
    AggregationSpec,
    PrivacySpec,
    TaskPackage,
    task_from_spec,
)

#: Checks a task's rule and parameters, raising a `FedstakeError` if an operator
#: could not run them (e.g. `offchain.aggregation.rule_for_task`).
RuleCheck = Callable[[AggregationSpec], object]


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise InvalidInput(f"task spec is not JSON: {exc}") from None


def _rule_param(text: str) -> tuple[str, Any]:
    name, sep, raw = text.partition("=")
    if not sep or not name:
        raise InvalidInput(f"--rule-param {text!r}: write NAME=VALUE")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return name.strip(), value


def make_task_app(check_rule: RuleCheck | None = None) -> typer.Typer:
    """The `task` sub-app; `check_rule` (if given) vets the package's rule and
    parameters before anything is written."""
    task_app = typer.Typer(help="Task packages: write one from a spec.", no_args_is_help=True)

    @task_app.command("init")
    def task_init(
        ctx: typer.Context,
        out: Annotated[Path, typer.Option(help="Where to write the task package.")] = Path(
            "task.bin"
        ),
        spec: Annotated[Path | None, typer.Option(help="Task spec (JSON).")] = None,
        name: Annotated[str | None, typer.Option(help="Task name.")] = None,
        description: Annotated[str | None, typer.Option(help="What the task is about.")] = None,
        model: Annotated[str | None, typer.Option(help="Model family: mlp.")] = None,
        inputs: Annotated[int | None, typer.Option("--input", help="Input features.")] = None,
        hidden: Annotated[
            str | None, typer.Option(help="Hidden layer widths, comma separated (mlp).")
        ] = None,
        classes: Annotated[int | None, typer.Option(help="Number of classes.")] = None,
        epochs: Annotated[int | None, typer.Option(help="Local epochs per round.")] = None,
        batch_size: Annotated[int | None, typer.Option(help="Local batch size.")] = None,
        lr: Annotated[float | None, typer.Option(help="Learning rate.")] = None,
        optimizer: Annotated[str | None, typer.Option(help="sgd or adam.")] = None,
        rule: Annotated[str | None, typer.Option(help="The pool's aggregation rule.")] = None,
        rule_param: Annotated[
            list[str] | None, typer.Option(help="A rule parameter, NAME=VALUE (repeatable).")
        ] = None,
        seed: Annotated[int | None, typer.Option(help="Seed of the initial weights.")] = None,
        force: Annotated[bool, typer.Option(help="Replace an existing output file.")] = False,
        encrypt_updates: Annotated[
            bool,
            typer.Option(
                help="Participants seal their updates to a per-round aggregator key "
                "(docs/PRIVACY.md); needs --operator-dir."
            ),
        ] = False,
        operator_dir: Annotated[
            Path | None,
            typer.Option(
                help="The operator's data folder (`operator run --data-dir`): round 1's "
                "secret key is saved in its round-keys/ (0600)."
            ),
        ] = None,
    ) -> None:
        """Write a task package (model spec, training config, aggregation rule,
        initial weights) for `fedstake pool create --task`."""
        s: Session = ctx.obj
        obj: dict[str, Any] = dict(_json(read_input_file(spec, "task spec"))) if spec else {}  # type: ignore[arg-type]
        if not isinstance(obj, dict):
            raise InvalidInput("task spec must be a JSON object")
        for key, value in (("name", name), ("description", description), ("seed", seed)):
            if value is not None:
                obj[key] = value
        if model is not None:
            if model != "mlp":
                raise InvalidInput(f"--model {model!r}: only mlp (or a full model in --spec)")
            if inputs is None or classes is None:
                raise InvalidInput("--model mlp needs --input and --classes")
            try:
                widths = [int(w) for w in hidden.split(",") if w.strip()] if hidden else []
            except ValueError:
                raise InvalidInput(f"--hidden {hidden!r}: comma-separated integers") from None
            obj["model"] = {"mlp": {"input": inputs, "hidden": widths, "classes": classes}}
        training = dict(obj.get("training", {}))
        for key, value in (("epochs", epochs), ("batch_size", batch_size), ("lr", lr)):
            if value is not None:
                training[key] = value
        if optimizer is not None:
            training["optimizer"] = optimizer
        obj["training"] = training
        if rule is not None or rule_param:
            aggregation = dict(obj.get("aggregation", {}))
            if rule is not None:
                aggregation["rule"] = rule
                aggregation["params"] = {}
            aggregation.setdefault("params", {})
            aggregation["params"] = {
                **aggregation["params"],
                **dict(map(_rule_param, rule_param or [])),
            }
            aggregation.setdefault("rule", DEFAULT_RULE)
            obj["aggregation"] = aggregation
        obj.setdefault("name", "task")
        if "model" not in obj:
            raise InvalidInput("no model: pass --model mlp --input N --classes K, or --spec FILE")
        if encrypt_updates != (operator_dir is not None):
            raise InvalidInput("--encrypt-updates and --operator-dir go together")
        package: TaskPackage = task_from_spec(obj)
        if check_rule is not None:
            check_rule(package.aggregation)
        if out.exists() and not force:
            raise InvalidInput(f"{out} already exists (pass --force to replace it)")
        if operator_dir is not None:
            first = RoundKeyStore(operator_dir / ROUND_KEYS_FOLDER).generate()
            package = dataclasses.replace(package, privacy=PrivacySpec(True, first.public))
        data = package.to_bytes()
        out.write_bytes(data)
        emit(
            {
                "task": str(out),
                "name": package.name,
                "rule": package.aggregation.rule,
                "rule_params": json.dumps(package.aggregation.params, sort_keys=True),
                "parameters": package.model.num_parameters,
                "initial_model_hash": package.initial_weights_hash.hex(),
                "bytes": len(data),
                "encrypt_updates": package.privacy.encrypt_updates,
            },
            s.as_json,
            "task package",
        )

    return task_app
