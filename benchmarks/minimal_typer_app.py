"""Baseline for the start-up benchmark: the smallest Typer app with a callback and one command."""

import typer

app = typer.Typer()


@app.callback()
def main(verbose: bool = False) -> None:
    """A minimal app."""


@app.command()
def hello(name: str = "world") -> None:
    """Say hello."""
    typer.echo(f"hello {name}")


if __name__ == "__main__":
    app()
