import pathlib
import subprocess
import sys

import ppl
from ppl.cli import main

QUICK_SVI = ["--option", "num_steps=300", "--option", "map_iterations=100"]


def test_algorithms_lists_every_registered_name(capsys):
    assert main(["algorithms"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    # the inference registry first, then ppl.decide's decision algorithms (not in the registry)
    assert names == [spec.name for spec in ppl.algorithms() + ppl.decide.algorithms()]
    assert "thompson" in names


def test_run_prints_summary_and_reference_error_and_saves(tmp_path, capsys):
    path = str(tmp_path / "post.nc")
    code = main(
        [
            "run",
            "sblrc-blr",
            "--method",
            "svi",
            "--backend",
            "numpyro",
            "--num-samples",
            "200",
            "--out",
            path,
            *QUICK_SVI,
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "mean err" in out and "r_hat" in out
    assert ppl.load(path).samples["beta"].shape == (1, 200, 5)


def test_compare_tabulates_both_backends_and_plots(tmp_path, capsys):
    png = tmp_path / "marginals.png"
    code = main(
        [
            "compare",
            "sblrc-blr",
            "--methods",
            "svi",
            "--backends",
            "numpyro,pyro",
            "--plot",
            str(png),
            *QUICK_SVI,
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    rows = [line for line in out.splitlines() if line.startswith("svi ")]
    assert [row.split()[1] for row in rows] == ["numpyro", "pyro"]
    assert png.stat().st_size > 10_000


def test_bad_option_is_a_clean_error(capsys):
    code = main(["run", "sblrc-blr", "--method", "svi", "--option", "step_sise=1"])
    err = capsys.readouterr().err
    assert code == 2 and "Unknown option 'step_sise'" in err and "Traceback" not in err


def test_unknown_method_is_a_clean_error(capsys):
    assert main(["run", "sblrc-blr", "--method", "nutz"]) == 2
    assert "Did you mean 'nuts'" in capsys.readouterr().err


def test_the_module_runs_as_a_command():
    out = subprocess.run(
        [sys.executable, "-m", "ppl.cli", "backends"], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == list(ppl.backends())


def test_absent_device_is_a_clean_error(capsys):
    code = main(["run", "sblrc-blr", "--method", "svi", "--device", "tpu"])
    assert code == 2 and "Unknown device 'tpu'" in capsys.readouterr().err


def test_progress_bar_only_when_asked(capsys):
    from tests.inference.test_contract import Y, normal_normal

    ppl.infer(normal_normal, "nuts", args=(Y,), num_warmup=20, num_samples=20, progress=False)
    assert capsys.readouterr().err == ""
    ppl.infer(normal_normal, "nuts", args=(Y,), num_warmup=20, num_samples=20, progress=True)
    assert "nuts" in capsys.readouterr().err  # tqdm draws its bar, named after the method


def test_option_values_are_python_literals_else_strings():
    from ppl.compare import parse_options

    parsed = parse_options(["n=3", "lr=1e-3", "adapt=False", "sizes=[1, 2]", "guide=mvn", "s=a=b"])
    assert parsed == {
        "n": 3,
        "lr": 1e-3,
        "adapt": False,
        "sizes": [1, 2],
        "guide": "mvn",
        "s": "a=b",
    }
    assert type(parsed["n"]) is int and type(parsed["lr"]) is float


def test_option_without_a_value_is_a_clean_error(capsys):
    assert main(["run", "sblrc-blr", "--method", "svi", "--option", "num_steps"]) == 2
    err = capsys.readouterr().err
    assert "key=value" in err and "Traceback" not in err


def test_the_console_script_is_installed():
    script = pathlib.Path(sys.executable).parent / "ppl"
    out = subprocess.run([str(script), "algorithms"], capture_output=True, text=True, check=True)
    assert [line.split()[0] for line in out.stdout.splitlines()] == [
        spec.name for spec in ppl.algorithms() + ppl.decide.algorithms()
    ]


def test_run_with_one_nuts_chain_notes_r_hat_absent_and_counts_divergences(capsys):
    code = main(
        [
            "run",
            "eight_schools_noncentered",
            "--method",
            "nuts",
            "--backend",
            "numpyro",
            "--num-samples",
            "50",
            "--option",
            "num_warmup=50",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0
    assert "r_hat: absent" in captured.out and "Shape validation failed" not in captured.err
    assert "divergences: " in captured.out and " of 50 draws (" in captured.out


def test_compare_refuses_unknown_backends_and_options_naming_the_choices(capsys):
    """Issue 24 item 4: these were dropped or ignored silently (exit 0, or 1 with no word)."""
    cases = [
        (["--backends", "numpyro,tf"], ["'tf'", "numpyro, pyro"]),
        (["--backends", "pyro_"], ["'pyro_'", "Did you mean 'pyro'?"]),
        (["--option", "num_samplez=50"], ["'num_samplez'", "Did you mean 'num_samples'?"]),
        (["--methods", "nuts,nutz"], ["'nutz'", "Did you mean 'nuts'?"]),
    ]
    for extra, needles in cases:
        assert main(["compare", "sblrc-blr", *extra]) == 2, extra
        err = capsys.readouterr().err
        assert all(needle in err for needle in needles), (extra, err)


def test_run_refuses_an_unknown_backend_or_option_with_exit_2(capsys):
    assert main(["run", "sblrc-blr", "--backend", "tf"]) == 2
    assert "'tf'" in capsys.readouterr().err
    assert main(["run", "sblrc-blr", "--option", "num_samplez=5"]) == 2
    assert "Did you mean 'num_samples'?" in capsys.readouterr().err
    assert main(["run", "sblrc-blrr"]) == 2
    assert "Did you mean 'sblrc-blr'? ppl.models.names()" in capsys.readouterr().err


def test_compare_plot_creates_its_folder(tmp_path, capsys):
    path = tmp_path / "new" / "deeper" / "c.png"
    code = main(
        [
            "compare",
            "sblrc-blr",
            "--methods",
            "svi",
            "--backends",
            "numpyro",
            "--plot",
            str(path),
            *QUICK_SVI,
        ]
    )
    assert code == 0 and path.is_file()
