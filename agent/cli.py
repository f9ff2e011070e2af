"""The `techcomplex` command line."""

from __future__ import annotations

import logging
import os
import shutil
import sys
from typing import Any

import click
from click.utils import PacifyFlushWrapper

from agent import __version__, logs
from agent.config import DEFAULT_CONFIG, load_config, with_repository
from agent.errors import EXIT_INTERNAL, EXIT_OUTPUT, AgentError, OutputError
from agent.output import write_atomic
from agent.render import FORMATS, render
from agent.runner import Outcome, Planned
from agent.scan import load_rules, run_scan
from rules.pack import Criterion, Group, Test

log = logging.getLogger(__name__)


def _fail(exc: AgentError) -> None:
    message = logs.REDACTOR(str(exc))
    if logs.json_lines_enabled():
        log.error("%s", message)
    else:
        click.echo(f"techcomplex: error: {message}", err=True)
    sys.exit(exc.exit_code)


class _Progress:
    """A live line per collector on a terminal; nothing when stderr is not one."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self.status = None
        self.pending: set[str] = set()

    def planned(self, plans: list[Planned]) -> None:
        self.pending = {p.name for p in plans if p.collector is not None}
        self.status = self.console.status(self._text())
        self.status.start()

    def finished(self, outcome: Outcome) -> None:
        self.pending.discard(outcome.name)
        mark = {"ok": "✓", "partial": "~", "failed": "✗", "skipped": "-"}[
            outcome.status
        ]
        self.console.print(
            f"{mark} {outcome.name} {outcome.status} "
            f"({outcome.duration_seconds:.1f} s)"
            + (f": {outcome.error}" if outcome.error else ""),
            markup=False,
            highlight=False,
        )
        if self.status:
            self.status.update(self._text())

    def _text(self) -> str:
        return "Collecting: " + (", ".join(sorted(self.pending)) or "done")

    def stop(self) -> None:
        if self.status:
            self.status.stop()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="techcomplex")
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="Lowest level of log lines written to stderr.",
)
@click.option(
    "--log-format",
    default="text",
    show_default=True,
    type=click.Choice(["text", "json"]),
    help="Log lines as text or as one JSON object per line (for cron and sidecars).",
)
@click.pass_context
def main(ctx: click.Context, log_level: str, log_format: str) -> None:
    """Collect evidence from a running system and judge it against Order No. 308/НҚ."""
    ctx.ensure_object(dict)
    interactive = sys.stderr.isatty() and log_format == "text"
    # On a terminal the progress display replaces the info lines.
    level = "WARNING" if interactive and log_level.upper() == "INFO" else log_level
    logs.configure(level=level, json_lines=log_format == "json")
    ctx.obj["interactive"] = interactive


@main.command()
@click.option(
    "--config",
    "config_path",
    default=None,
    metavar="FILE",
    help=f"Configuration file [default: {DEFAULT_CONFIG} if present, else scan this host].",
)
@click.option(
    "--format",
    "fmt",
    default="table",
    show_default=True,
    type=click.Choice(FORMATS),
    help="Report format.",
)
@click.option(
    "--output",
    default=None,
    metavar="FILE",
    help="Write the report to FILE (atomically) instead of standard output; "
    "- is standard output.",
)
@click.option(
    "--repo",
    default=None,
    metavar="DIR",
    help="Scan the source repository in DIR; without --config, only the repository.",
)
@click.pass_context
def scan(
    ctx: click.Context,
    config_path: str | None,
    fmt: str,
    output: str | None,
    repo: str | None,
) -> None:
    """Scan the configured system once and print or write the report."""
    if output == "":
        raise click.BadParameter(
            "must name a file, or - for standard output", param_hint="--output"
        )
    if output == "-":
        output = None
    progress = _Progress() if ctx.obj["interactive"] else None
    try:
        config = load_config(config_path)
        if repo is not None:
            config = with_repository(config, repo)
        report = run_scan(
            config,
            on_planned=progress.planned if progress else None,
            on_finish=progress.finished if progress else None,
        )
    except AgentError as exc:
        _fail(exc)
    finally:
        if progress:
            progress.stop()
    options: dict[str, Any] = {}
    if fmt == "table":
        terminal = output is None and sys.stdout.isatty()
        options = {
            "width": shutil.get_terminal_size().columns if terminal else 160,
            "color": terminal,
        }
    text = render(report, fmt, **options)
    if output:
        try:
            write_atomic(output, text)
        except AgentError as exc:
            _fail(exc)
        log.info("report written to %s", output)
    else:
        try:
            click.echo(logs.REDACTOR(text), nl=False)
            sys.stdout.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            _fail(
                OutputError(
                    f"cannot write the report to standard output: {exc.strerror}"
                )
            )


@main.command()
@click.option(
    "--config",
    "config_path",
    default=None,
    metavar="FILE",
    help="Configuration file whose rule settings apply.",
)
def criteria(config_path: str | None) -> None:
    """List the criteria of the rule pack with their thresholds and basis."""
    from rules.vocabulary import load_vocabulary

    try:
        config = load_config(config_path)
        pack = load_rules(config, load_vocabulary())
    except AgentError as exc:
        _fail(exc)
    origin = "built-in" if pack.origin == "built-in" else f"file {pack.origin}"
    click.echo(
        f"Rule pack {pack.id} {pack.version} ({origin}, sha256 {pack.sha256[:12]}), "
        f"technologically complex when at least {pack.min_met} met"
    )
    for criterion in pack.criteria:
        click.echo(f"\n{criterion.id}. {criterion.title_en}")
        click.echo(f"   {criterion.title_ru}")
        for name, mode in criterion.modes.items():
            chosen = " (in use)" if name == criterion.mode else ""
            join = "all tests" if mode.join == "all" else "any one test"
            click.echo(f"   mode {name}{chosen}: {join} (basis {mode.basis})")
        _echo_condition(criterion.id, _condition_in_use(criterion), "   ")


def _condition_in_use(criterion: Criterion) -> Test | Group:
    if criterion.mode and isinstance(criterion.condition, Group):
        join = criterion.modes[criterion.mode].join
        return Group(join, criterion.condition.children)
    return criterion.condition


def _echo_condition(criterion_id: int, node: Test | Group, indent: str) -> None:
    """Print a condition tree: each group with how its parts combine, each test in full."""
    if isinstance(node, Test):
        threshold = "" if node.value is None else f" {node.value}"
        reason = f": {node.reason}" if node.reason else ""
        click.echo(
            f"{indent}- {criterion_id}.{node.name}: {node.fact} {node.op}{threshold} "
            f"(basis {node.basis}){reason}"
        )
        return
    heading = {
        "all": "all of:",
        "any": "any of:",
        "not": "not:",
        "at_least": f"at least {node.count} of:",
    }[node.kind]
    if node.reason:
        heading += f" ({node.reason})"
    click.echo(f"{indent}{heading}")
    for child in node.children:
        _echo_condition(criterion_id, child, indent + "  ")


@main.command()
def facts() -> None:
    """List the fact vocabulary: keys, types, units and how scopes combine."""
    from rules.vocabulary import load_vocabulary

    vocabulary = load_vocabulary()
    for key in vocabulary:
        spec = vocabulary[key]
        unit = f" [{spec.unit}]" if spec.unit else ""
        click.echo(
            f"{key}: {spec.type}{unit}, combine {spec.combine}; {spec.description}"
        )


def entry() -> None:
    if sys.stdout is None:
        # Started with standard output closed (`>&-`): nowhere to print a report.
        sys.stderr.write("techcomplex: error: standard output is closed\n")
        sys.exit(EXIT_OUTPUT)
    try:
        code = main.main(obj={}, standalone_mode=False)
        sys.stdout.flush()
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(EXIT_INTERNAL)
    except BrokenPipeError:
        # The reader went away (e.g. `techcomplex criteria | head -1`): nothing
        # more can be written, so leave quietly without a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(EXIT_OUTPUT)
    except SystemExit as exc:
        # Click handles a broken pipe itself: it wraps stdout and exits with 1,
        # which here means an internal error. Report it as an output failure.
        if exc.code == 1 and isinstance(sys.stdout, PacifyFlushWrapper):
            sys.exit(EXIT_OUTPUT)
        raise
    except Exception:
        log.exception("internal error")
        sys.exit(EXIT_INTERNAL)
    sys.exit(code if isinstance(code, int) else 0)
