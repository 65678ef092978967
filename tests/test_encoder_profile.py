"""The encoder profile benchmark runs end to end on the tiny encoder and reports every variant."""

from __future__ import annotations

from benchmarks import encoder_profile


def test_profile_prints_one_row_per_batch_and_variant_with_a_full_time_breakdown(capsys):
    encoder_profile.main(["--backbone", "tiny-random", "--batches", "2,3", "--repeats", "1", "--threads", "1"])
    rows = [
        line.split("|")[1:-1]
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("| ") and line[2].isdigit()
    ]
    assert [(r[0].strip(), r[1].strip()) for r in rows] == [
        (b, v) for b in ("2", "3") for v in ("fp32", "bf16-autocast", "bf16-weights")
    ]
    for row in rows:
        assert float(row[2]) > 0  # frames/s
        assert float(row[5]) > (0.9999 if row[1].strip() == "fp32" else 0.99)  # tokens vs fp32
        shares = [float(x.strip().rstrip("%")) for x in row[6].split("/")]
        assert abs(sum(shares) - 100) <= 3  # rounding of 5 percentages


def test_ops_are_put_in_their_category():
    assert encoder_profile.category("aten::addmm") == "gemm"
    assert encoder_profile.category("aten::_scaled_dot_product_flash_attention_for_cpu") == "attention"
    assert encoder_profile.category("aten::copy_") == "conversion"
    assert encoder_profile.category("aten::gelu") == "norm/act/elementwise"
    assert encoder_profile.category("graph_0_cpp_fused_0") == "other"
