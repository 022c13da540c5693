"""minilib.experiments.cli: the options and the store loop every family of reference runs shares."""
import json

import pytest

from minilib.experiments import cli


class FakeRun:
    def __init__(self, name):
        self.name = name

    def save(self, path):
        path.write_text(json.dumps(self.name))


def test_store_runs_writes_each_path_once_and_keeps_existing(tmp_path, capsys):
    made = []

    def make(name):
        made.append(name)
        return FakeRun(name)

    (tmp_path / "old_seed1.json").write_text('"stored"')

    def plan(seed):   # two experiments share one baseline file per seed
        return [(tmp_path / f"base_seed{seed}.json", lambda: make(f"base{seed}")),
                (tmp_path / f"a_seed{seed}.json", lambda: make(f"a{seed}")),
                (tmp_path / f"base_seed{seed}.json", lambda: make(f"base{seed}-again")),
                (tmp_path / f"old_seed{seed}.json", lambda: make(f"old{seed}"))]

    written = cli.store_runs([0, 1], plan, skip_existing=True, describe=lambda r: r.name.upper())
    assert made == ["base0", "a0", "old0", "base1", "a1"]          # old_seed1 was on disk already
    assert [p.name for p in written] == ["base_seed0.json", "a_seed0.json", "old_seed0.json",
                                         "base_seed1.json", "a_seed1.json"]
    assert json.loads((tmp_path / "old_seed1.json").read_text()) == "stored"
    out = capsys.readouterr().out
    assert "base_seed0.json: BASE0" in out and out.count("kept base_seed") == 2 and "kept old_seed1.json" in out


def test_store_runs_remakes_existing_files_without_skip_existing(tmp_path):
    (tmp_path / "x.json").write_text('"stored"')
    cli.store_runs([0], lambda seed: [(tmp_path / "x.json", lambda: FakeRun("new"))], skip_existing=False,
                   describe=lambda r: "")
    assert json.loads((tmp_path / "x.json").read_text()) == "new"


def test_parser_defaults_and_refuses_unknown_variants():
    ap = cli.parser("prog", "d", ["a", "b"], flag="--strategies")
    args = ap.parse_args([])
    assert (args.strategies, args.scale, args.seeds, args.skip_existing) == (["a", "b"], "cpu", [0, 1, 2], False)
    assert ap.parse_args(["--strategies", "b", "--seeds", "4"]).strategies == ["b"]
    with pytest.raises(SystemExit):
        ap.parse_args(["--strategies", "c"])
