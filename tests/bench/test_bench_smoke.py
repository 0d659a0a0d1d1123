"""The Trainer benchmark runs end to end (tiny sizes, once each): a smoke test, not a timing."""

from bench_script import run_script


def test_bench_trainer_quick_prints_its_tables():
    done = run_script("bench_trainer.py", "--quick")
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert (
        "| model | Trainer ms/step | plain loop ms/step | ratio (median) | ratio IQR | same losses |" in lines
    )
    rows = [line for line in lines if line.endswith(("| yes |", "| NO |"))]
    assert [row.split(" |")[0] for row in rows] == [
        "| MLP (quick)",
        "| cnn_bars_stripes, batch 32, Adam",
        "| gru_sequence_sign, batch 32, Adam",
    ]
    assert all(row.endswith("| yes |") for row in rows)  # the plain loop computes the Trainer's losses
    assert "| graph | node | stepping µs | eager µs | ratio |" in lines
    assert any(line.startswith("| gru_sequence_sign | rnn (GRU) |") for line in lines)
