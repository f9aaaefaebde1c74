"""`kaohe results`: a month's or a quarter's results in the terminal or as a file."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from engine.errors import KaoheError
from engine.runtime import Runtime
from engine.settings import Settings


@click.command("results")
@click.option("--period", help="A month, e.g. 2026-03.")
@click.option("--quarter", help="A quarter, e.g. 2026Q1.")
@click.option("--format", "output_format", type=click.Choice(["table", "json", "csv", "xlsx"]), default="table",
              show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (required for csv and xlsx; csv also writes NAME-people.csv).")
@click.option("--lang", "language", type=click.Choice(["zh", "en"]), help="Language of headers (default: KAOHE_LANGUAGE).")
def results(period: str | None, quarter: str | None, output_format: str, output: Path | None,
            language: str | None) -> None:
    """Per unit: own score by area, adjustments, fused score, rank in category, rewards, last-place,
    shortlist and full-marks flags; per person: the weighted score and the political check."""
    from engine.services import result_store, results_export
    from web.cli_progress import progress_bar
    settings = Settings.from_env()
    language = language or ("en" if settings.language.startswith("en") else "zh")
    if bool(period) == bool(quarter):
        raise click.UsageError("give exactly one of --period 2026-03 or --quarter 2026Q1")
    if output_format in ("csv", "xlsx") and output is None:
        raise click.UsageError(f"--format {output_format} needs --output FILE")
    try:
        # The stored results, recomputed here (with a bar on a terminal) when an input changed since.
        with progress_bar() as progress:
            computed = result_store.current_results(Runtime(settings), period or quarter, progress)
    except KaoheError as error:
        click.echo(click.style(error.text(language), fg="red"), err=True)
        for field, message in getattr(error, "field_errors", {}).items():
            click.echo(f"  - {field}: {message.text(language)}", err=True)
        sys.exit(1)
    if output_format == "table":
        text = results_export.render_table(computed, language)
    elif output_format == "json":
        text = results_export.to_json(computed, language)
    elif output_format == "csv":
        for path in results_export.write_csv(computed, output, language):
            click.echo(str(path))
        return
    else:
        with progress_bar() as progress:
            written = results_export.write_xlsx(computed, output, language, progress)
        click.echo(str(written))
        return
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(str(output))
    else:
        click.echo(text, nl=False)
