"""Command-line options built from the estimators' own parameters.

`aekit train` offers one flag per constructor parameter of the trainable estimators
(`AutoEncoder`, `VariationalAutoEncoder`, `Colorizer`): the flag's help is the parameter's
numpydoc entry, its type the entry's type, and which presets take it comes from the presets'
estimator classes. Every flag defaults to "not given", so a preset's settings hold unless the
user sets that option; an option the chosen preset's estimator does not take is refused with
the presets that do take it. A parameter whose type says "list of" is a repeatable flag. Nothing
here knows about any one model family.
"""
from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from typing import Annotated, Any, Optional

import typer

from aekit.errors import ConfigError
from aekit.estimators.presets import PRESETS, estimator_classes

# Parameters whose flag has another name, and parameters the train command sets itself.
FLAG_NAMES = {"latent_dim": "latent", "logger": "log"}
NOT_FLAGS = {"verbose", "input_shape", "random_state"}


@dataclass
class EstimatorOption:
    """One constructor parameter offered as a flag."""

    name: str
    flag: str
    type: str  # the numpydoc type, e.g. "tuple of int", "float or None"
    help: str
    classes: tuple[str, ...]  # estimator classes that take it

    @property
    def is_bool(self) -> bool:
        return self.type.split(",")[0].strip() == "bool"

    @property
    def is_list(self) -> bool:
        """A repeatable flag: the parameter takes a list (of texts, on the command line)."""
        return "list of" in self.type

    def convert(self, value):
        """The CLI text (or bool, or the texts of a repeated flag) as the parameter's value."""
        if value is None or self.is_bool:
            return value
        if self.is_list:
            return [str(v).strip() for v in value] or None
        kinds = self.type
        text = str(value).strip()
        if "tuple of" in kinds:
            parts = [t for t in text.replace(" ", "").split(",") if t]
            number = float if "tuple of float" in kinds else int
            try:
                return tuple(number(t) for t in parts)
            except ValueError:
                if kinds.startswith("str"):
                    return text
                raise ConfigError(f"--{self.flag} must be comma-separated {number.__name__}s, like "
                                  f"{'1000,500,250' if number is int else '0.5,1.0'} (got {text!r})") from None
        if text.lower() == "none" and "None" in kinds:
            return None
        if text.lower() == "auto" and '"auto"' in kinds:
            return "auto"
        for number in (int, float):
            if kinds.startswith(number.__name__) or f"or {number.__name__}" in kinds:
                try:
                    return number(text)
                except ValueError:
                    if not kinds.startswith(number.__name__) or "str" in kinds:
                        continue
                    raise ConfigError(f"--{self.flag} must be {'an integer' if number is int else 'a number'} "
                                      f"(got {text!r})") from None
        return text


def parse_parameters(doc: str) -> dict[str, tuple[str, str]]:
    """name → (type, description) from a numpydoc "Parameters" section."""
    m = re.search(r"\n\s*Parameters\n\s*-+\n(.*?)(?:\n\s*\n\s*[A-Z][a-z]+\n\s*-+\n|\Z)", doc or "", re.S)
    out: dict[str, tuple[str, str]] = {}
    if not m:
        return out
    current = None
    for line in m.group(1).splitlines():
        head = re.match(r"^\s{4}(\w+) : (.+)$", line)
        if head:
            current = head.group(1)
            out[current] = (head.group(2).strip(), "")
        elif current and line.strip():
            typ, text = out[current]
            out[current] = (typ, f"{text} {line.strip()}".strip())
    return out


def estimator_options() -> dict[str, EstimatorOption]:
    """Every constructor parameter of the trainable estimators, as a flag."""
    options: dict[str, EstimatorOption] = {}
    for cls_name, cls in estimator_classes().items():
        docs = parse_parameters(cls.__doc__ or "")
        for name in inspect.signature(cls).parameters:
            if name in NOT_FLAGS:
                continue
            typ, text = docs.get(name, ("str", ""))
            if name in options:
                opt = options[name]
                if text and text[:25] != opt.help[:25]:  # say the other model's meaning when it differs
                    opt.help = f"{opt.help} | {cls_name}: {text}"
                opt.classes += (cls_name,)
            else:
                options[name] = EstimatorOption(name, FLAG_NAMES.get(name, name).replace("_", "-"), typ, text,
                                                (cls_name,))
    for opt in options.values():
        if len(opt.classes) < len(estimator_classes()):
            presets = [p for p, spec in PRESETS.items() if spec.estimator in opt.classes]
            opt.help = f"{opt.help} [models: {', '.join(presets)}]"
    return options


def metavar(typ: str) -> str:
    """What the help shows for a value of numpydoc type `typ`."""
    if "tuple of int" in typ:
        return "N,N,..."
    if "tuple of float" in typ:
        return "X,X,..." if not typ.startswith("str") else "TEXT|X,X"
    first = typ.split(",")[0].split(" or ")[0].strip()
    return {"int": "INT", "float": "FLOAT", "str": "TEXT"}.get(first, "TEXT")


def typer_parameters(options: dict[str, EstimatorOption]) -> list[inspect.Parameter]:
    """The options as keyword parameters of a typer command, each defaulting to None (not given)."""
    params = []
    for opt in options.values():
        if opt.is_bool:
            decl = typer.Option(f"--{opt.flag}/--no-{opt.flag}", help=opt.help, show_default=False, metavar="")
            annotation: Any = Annotated[Optional[bool], decl]
        elif opt.is_list:
            decl = typer.Option(f"--{opt.flag}", help=f"{opt.help} (repeatable)", show_default=False,
                                metavar=metavar(opt.type))
            annotation = Annotated[Optional[list[str]], decl]
        else:
            decl = typer.Option(f"--{opt.flag}", help=opt.help, show_default=False, metavar=metavar(opt.type))
            annotation = Annotated[Optional[str], decl]
        params.append(inspect.Parameter(opt.name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation))
    return params


def with_estimator_options(options: dict[str, EstimatorOption]):
    """Decorator: the command takes **options; its signature gains one flag per estimator option."""

    def wrap(func):
        sig = inspect.signature(func, eval_str=True)
        own = [p for p in sig.parameters.values() if p.kind != inspect.Parameter.VAR_KEYWORD]
        func.__signature__ = sig.replace(parameters=[*own, *typer_parameters(options)])
        return func

    return wrap


def given_params(options: dict[str, EstimatorOption], values: dict, preset: str) -> dict:
    """The estimator parameters the user gave, converted; ConfigError for one the preset's
    estimator does not take, naming the presets that do."""
    cls_name = PRESETS[preset].estimator
    params = {}
    for name, value in values.items():
        if value is None or (isinstance(value, (list, tuple)) and not value):  # a repeatable flag not given
            continue
        opt = options[name]
        if cls_name not in opt.classes:
            takers = [p for p, spec in PRESETS.items() if spec.estimator in opt.classes]
            raise ConfigError(f"--{opt.flag} is not an option of --model {preset}; it is one of --model "
                              f"{', '.join(takers)}")
        params[name] = opt.convert(value)
    return params


__all__ = ["EstimatorOption", "estimator_options", "given_params", "parse_parameters", "typer_parameters",
           "with_estimator_options"]
