"""One error path for every ``zsaudio`` sub-command (zsaudio.cli.main, zsaudio.errors)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from zsaudio.cli.main import COMMANDS, build_parser, main
from zsaudio.embeddings import available_encoders
from zsaudio.errors import EXIT_CODES_HELP, UserError
from zsaudio.labels import available_label_encoders
from zsaudio.model import METHODS


def _subparser(name: str) -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def _option(command: str, dest: str) -> argparse.Action:
    return next(a for a in _subparser(command)._actions if a.dest == dest)


def test_reproduce_with_a_missing_esc50_folder_prints_one_line(tmp_path, capsys):
    rc = main(["reproduce", "--esc50", str(tmp_path / "no" / "such" / "dir"), "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("zsaudio reproduce: error: ") and "no/such/dir" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_reproduce_bad_seeds_and_label_encoder(tmp_path, capsys):
    assert main(["reproduce", "--seeds", "0", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == "zsaudio reproduce: error: --seeds must be at least 1\n"
    with pytest.raises(SystemExit) as info:  # argparse: usage + one error line, status 2
        main(["reproduce", "--label-encoder", "nope:the {label}", "--out", str(tmp_path)])
    assert info.value.code == 2 and "unknown label encoder 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("raised, status", [
    (UserError("bad thing"), 2), (ValueError("bad value"), 2), (FileNotFoundError("no file x"), 2),
    (PermissionError("cannot write /out"), 1), (KeyboardInterrupt(), 130),
])
def test_every_command_reports_errors_the_same_way(monkeypatch, capsys, raised, status):
    def run(args):
        raise raised

    for command in COMMANDS:
        monkeypatch.setattr(f"zsaudio.cli.{command}.run", run)
        rc = main([command, *_minimal_args(command)])
        err = capsys.readouterr().err
        assert rc == status, command
        if status == 130:
            assert err == f"zsaudio {command}: interrupted\n"
        else:
            assert err == f"zsaudio {command}: error: {raised}\n"


def test_bugs_keep_their_traceback_and_traceback_shows_user_errors(monkeypatch):
    def buggy(args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("zsaudio.cli.labels.run", buggy)
    with pytest.raises(ZeroDivisionError):
        main(["labels", "dog"])

    def user_mistake(args):
        raise UserError("bad")

    monkeypatch.setattr("zsaudio.cli.labels.run", user_mistake)
    assert main(["labels", "dog"]) == 2
    with pytest.raises(UserError):
        main(["--traceback", "labels", "dog"])


def test_exit_codes_are_in_the_help_and_the_readme(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert EXIT_CODES_HELP in out
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert "## Exit status" in readme and all(f"| {code} |" in readme for code in (0, 1, 2, 130))
    assert main([]) == 2 and "COMMAND" in capsys.readouterr().err


def test_encoder_and_method_choices_come_from_the_registries():
    for command, dest in [("embed", "encoder"), ("train", "audio_encoder"), ("demo", "audio_encoder"),
                          ("classify", "audio_encoder"), ("reproduce", "audio_encoder")]:
        assert _option(command, dest).choices == available_encoders(), command
    for command in ("train", "demo", "classify"):
        assert _option(command, "label_encoder").choices == available_label_encoders(), command
        assert _option(command, "method").choices == sorted(METHODS), command
    assert _option("labels", "encoder").choices == available_label_encoders()


def _minimal_args(command: str) -> list[str]:
    return {"embed": ["x.wav", "--out", "o"], "labels": ["dog"], "train": ["--out", "m.npz"],
            "classify": ["x.wav", "--model", "m.npz"], "reproduce": ["--out", "o"], "demo": [],
            "serve": []}[command]
