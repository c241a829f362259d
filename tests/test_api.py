import lhcgan


def test_public_api_is_pinned():
    assert sorted(lhcgan.__all__) == sorted(
        ["TTBAR", "Events", "LhcganError", "Process", "Resonance", "Slot", "__version__", "iterate", "read", "write"]
    )
    for name in lhcgan.__all__:
        assert hasattr(lhcgan, name)


def test_errors_share_one_base():
    from lhcgan import errors

    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, Exception)]
    assert all(issubclass(c, lhcgan.LhcganError) for c in classes)
    e = errors.MalformedFileError("bad line\nwith break", path="x.lhe", event=7, hint="fix it")
    assert str(e) == "x.lhe: event 7: bad line with break (fix it)"
