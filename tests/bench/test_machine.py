"""The machine description: Jetson release parsing, the kind two runs must share, the baseline file name."""
from amma_edge.bench.machine import describe_machine, device_slug, l4t_release, machine_kind


def test_l4t_release_is_read_from_nv_tegra_release():
    text = "# R36 (release), REVISION: 3.0, GCID: 36191598, BOARD: generic, EABI: aarch64, DATE: Mon May  6 2024\n"
    assert l4t_release(text) == "R36.3.0"
    assert l4t_release("# R32 (release), REVISION: 7.4, GCID: 33514132, BOARD: t210ref") == "R32.7.4"
    assert l4t_release("") is None


def test_device_slug_names_the_gpu_or_else_the_cpu():
    assert device_slug({"gpu": {"name": "NVIDIA H200"}, "cpu": "x"}) == "nvidia-h200"
    assert device_slug({"gpu": {"name": "NVIDIA Jetson Orin Nano Developer Kit"}}) == \
        "nvidia-jetson-orin-nano-developer-kit"
    assert device_slug({"gpu": {"name": None}, "cpu": "AMD EPYC 7B13"}) == "cpu-amd-epyc-7b13"


def test_this_machine_is_described_with_what_comparisons_need():
    machine = describe_machine()
    assert machine["cpu"] and machine["cores_logical"] >= 1 and machine["ram_gib"] > 0
    assert machine["versions"]["onnxruntime"] and "gpu" in machine
    assert machine_kind(machine) == {"cpu": machine["cpu"], "gpu": machine["gpu"].get("name")}
