"""Command line: ``pagecast serve | screenshot | pdf``.

Capture flags are generated from the request models, so the CLI accepts exactly the API's
options (``--full-page``, ``--wait-for-selector``...) and the models validate them. Nested
options (``--viewport``, ``--clip``, ``--margin``, ``--cookies``...) take JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from pagecast.capture import CAPTURES, Capture
from pagecast.errors import PagecastError
from pagecast.settings import Settings

SOURCE_FIELDS = {"url", "html"}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _unwrap_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _add_model_flags(parser: argparse.ArgumentParser, model: type[BaseModel]) -> None:
    for name, field in model.model_fields.items():
        if name in SOURCE_FIELDS:
            continue
        annotation = _unwrap_optional(field.annotation)
        origin = typing.get_origin(annotation)
        help_text = (field.description or "").replace("%", "%%")
        kwargs: dict[str, Any] = {"dest": name, "default": argparse.SUPPRESS, "help": help_text}
        if annotation is bool:
            parser.add_argument(_flag(name), action=argparse.BooleanOptionalAction, **kwargs)
        elif annotation in (int, float, str):
            parser.add_argument(_flag(name), type=annotation, **kwargs)
        elif origin is Literal:
            parser.add_argument(_flag(name), choices=typing.get_args(annotation), **kwargs)
        elif origin is list and typing.get_args(annotation)[0] is str:
            parser.add_argument(_flag(name), action="append", metavar="VALUE", **kwargs)
        elif origin is list and typing.get_origin(typing.get_args(annotation)[0]) is Literal:
            choices = typing.get_args(typing.get_args(annotation)[0])
            parser.add_argument(_flag(name), action="append", choices=choices, **kwargs)
        else:
            kwargs["help"] = f"{help_text} (JSON)".strip()
            parser.add_argument(_flag(name), type=json.loads, metavar="JSON", **kwargs)


def _source(value: str) -> dict[str, str]:
    if value.startswith(("http://", "https://")):
        return {"url": value}
    path = Path(value)
    if not path.is_file():
        raise SystemExit(f"pagecast: {value} is neither an http(s) URL nor a file")
    return {"html": path.read_text(encoding="utf-8")}


async def _capture_once(capture: Capture[Any], fields: dict[str, Any], output: Path) -> int:
    try:
        request = capture.request_model.model_validate(fields)
    except ValidationError as exc:
        for error in exc.errors():
            loc = [str(p) for p in error["loc"]]
            if loc and loc[0] in capture.request_model.model_fields:
                loc[0] = _flag(loc[0])  # name the flag the user typed, not the Python field
            where = ".".join(loc) or "options"
            print(f"pagecast: {where}: {error['msg']}", file=sys.stderr)
        return 2
    from pagecast.renderer import Renderer  # Playwright import only when a browser is needed

    renderer = Renderer(Settings(max_concurrency=1, spare_slots=0))
    try:
        await renderer.start()
        artifact = await renderer.render(request)
    except PagecastError as exc:
        print(f"pagecast: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    finally:
        await renderer.stop()
    output.write_bytes(artifact.data)  # noqa: ASYNC240 - the run is over; nothing else waits
    size = f" {artifact.width}x{artifact.height}" if artifact.width else ""
    print(f"wrote {output} ({artifact.size} bytes{size})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pagecast", description="Browser rendering service.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="Run the HTTP API (and a worker).")
    serve.add_argument("--host", help="Default PAGECAST_HOST or 127.0.0.1.")
    serve.add_argument("--port", type=int, help="Default PAGECAST_PORT or 3000.")
    serve.add_argument("--no-worker", dest="worker", action="store_false",
                       help="API only: no browser; sync renders go through the queue.")  # fmt: skip
    worker = commands.add_parser(
        "worker", help="Run a queue worker only (PAGECAST_REDIS_URL, else a local serve's embedded redis)."
    )
    worker.add_argument("--health-port", dest="worker_health_port", type=int,
                        help="Serve /health on this port.")  # fmt: skip

    for command, kind, suffix in (("screenshot", "render", "png"), ("pdf", "pdf", "pdf")):
        capture = CAPTURES[kind]
        sub = commands.add_parser(command, help=f"Render one {suffix} without a server.")
        sub.add_argument("source", help="An http(s) URL or an HTML file.")
        sub.add_argument("-o", "--output", type=Path, default=Path(f"out.{suffix}"))
        _add_model_flags(sub, capture.request_model)
        sub.set_defaults(capture=capture)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = vars(build_parser().parse_args(argv))
    command = args.pop("command")
    if command == "serve":
        from pagecast.server import serve

        with_worker = args.pop("worker")
        serve(Settings(**{k: v for k, v in args.items() if v is not None}), worker=with_worker)
        return 0
    if command == "worker":
        from pagecast.server import run_worker

        run_worker(Settings(**{k: v for k, v in args.items() if v is not None}))
        return 0
    logging.basicConfig(level=logging.WARNING)
    capture, output = args.pop("capture"), args.pop("output")
    fields = {**_source(args.pop("source")), **args}
    if "format" in fields and capture.kind == "render" and output.suffix == ".png":
        output = output.with_suffix("." + fields["format"])
    return asyncio.run(_capture_once(capture, fields, output))


if __name__ == "__main__":
    sys.exit(main())
