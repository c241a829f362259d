import platform
import sys

import pytest

from lhcgan import memory


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                    reason="glibc's mallopt only")
def test_glibc_takes_the_fixed_thresholds():
    """mallopt returns 0 for a parameter or value it refuses: the parameters and thresholds generation sets are
    ones glibc accepts."""
    memory.keep_freed_memory.cache_clear()
    assert memory.keep_freed_memory() is True


def test_elsewhere_nothing_changes(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    memory.keep_freed_memory.cache_clear()
    try:
        assert memory.keep_freed_memory() is False
    finally:
        memory.keep_freed_memory.cache_clear()
