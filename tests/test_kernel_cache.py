"""Numba's kernel cache is emptied when any kernel source changes (vgbench.env.kernel_cache):
a cached kernel that inlined an older helper from another file must never run."""

from vgbench.env.kernel_cache import STAMP, invalidate_if_changed, source_hash


def test_cache_emptied_only_when_a_source_changes(tmp_path):
    src, cache = tmp_path / "kernels", tmp_path / "kernels" / "__pycache__"
    cache.mkdir(parents=True)
    (src / "gemm.py").write_text("A = 1\n")
    (src / "mlp.py").write_text("B = 2\n")
    old = [cache / "mlp.mlp_forward-1.py311.nbi", cache / "mlp.mlp_forward-1.py311.1.nbc"]
    for path in old:
        path.write_bytes(b"stale")
    keep = cache / "mlp.cpython-311.pyc"
    keep.write_bytes(b"bytecode")
    assert invalidate_if_changed(src, cache)  # no stamp yet: whatever is there is suspect
    assert not any(p.exists() for p in old) and keep.exists()
    assert (cache / STAMP).read_text().strip() == source_hash(src)
    fresh = cache / "mlp.mlp_forward-1.py311.nbi"
    fresh.write_bytes(b"compiled against these sources")
    assert not invalidate_if_changed(src, cache) and fresh.exists()
    (src / "gemm.py").write_text("A = 3\n")  # another file than the cached function's
    assert invalidate_if_changed(src, cache) and not fresh.exists()


def test_missing_or_unwritable_cache_is_left_alone(tmp_path):
    src = tmp_path / "kernels"
    src.mkdir()
    (src / "a.py").write_text("x = 1\n")
    assert not invalidate_if_changed(src, src / "__pycache__")
    assert not (src / "__pycache__").exists()
