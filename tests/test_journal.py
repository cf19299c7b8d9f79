"""Output locks and resume journals."""

import pytest

from georaster_dl.engine.journal import Journal, OutputLock, truncate_to
from georaster_dl.errors import OutputError


def test_second_lock_on_the_same_output_is_refused(tmp_path):
    out = tmp_path / "map.tif"
    with OutputLock(out):
        with pytest.raises(OutputError, match="another georaster-dl run is writing"):
            with OutputLock(out):
                pass
    with OutputLock(out):  # released after the first run
        pass
    assert not (tmp_path / "map.tif.lock").exists()


def test_locks_on_different_outputs_do_not_interfere(tmp_path):
    with OutputLock(tmp_path / "a.tif"), OutputLock(tmp_path / "b.tif"):
        pass


def test_journal_returns_last_checkpoint(tmp_path):
    j = Journal(tmp_path / "map.tif", {"model": "abc", "window": 1024})
    j.start()
    j.checkpoint(8, {"x": 100})
    j.checkpoint(16, {"x": 250})
    assert Journal(tmp_path / "map.tif", {"model": "abc", "window": 1024}).last_checkpoint() == (16, {"x": 250})


def test_journal_of_another_run_is_refused(tmp_path):
    Journal(tmp_path / "map.tif", {"model": "abc"}).start()
    with pytest.raises(OutputError, match="belongs to a run with another model"):
        Journal(tmp_path / "map.tif", {"model": "xyz"}).last_checkpoint()


def test_resume_without_journal_is_refused(tmp_path):
    with pytest.raises(OutputError, match="there is no journal"):
        Journal(tmp_path / "map.tif", {}).last_checkpoint()


def test_truncate_drops_bytes_after_checkpoint(tmp_path):
    f = tmp_path / "p"
    f.write_bytes(b"0123456789")
    truncate_to({str(f): 4})
    assert f.read_bytes() == b"0123"


def test_a_last_line_cut_short_by_a_crash_is_ignored(tmp_path):
    j = Journal(tmp_path / "map.tif", {"model": "abc"})
    j.start()
    j.checkpoint(8, {"x": 100})
    with open(j.path, "a") as f:
        f.write('{"windows_done": 16, "si')  # the crash came while the next checkpoint was written
    assert Journal(tmp_path / "map.tif", {"model": "abc"}).last_checkpoint() == (8, {"x": 100})


def test_a_lock_file_removed_by_its_previous_holder_is_not_trusted(tmp_path, monkeypatch):
    # Run A opens OUT.lock; run B, holding it, finishes and deletes it before A's flock;
    # A must not lock the deleted file (a third run would lock a new one beside it).
    import georaster_dl.engine.journal as journal

    out = tmp_path / "map.tif"
    real_flock, calls = journal.fcntl.flock, []

    def flock_after_the_holder_left(fd, op):
        if not calls:
            (tmp_path / "map.tif.lock").unlink()
        calls.append(fd)
        return real_flock(fd, op)

    monkeypatch.setattr(journal.fcntl, "flock", flock_after_the_holder_left)
    with OutputLock(out) as lock:
        assert len(calls) == 2  # the lock on the deleted file was dropped and taken again
        assert (tmp_path / "map.tif.lock").exists()
        assert journal.os.fstat(lock._fd).st_ino == (tmp_path / "map.tif.lock").stat().st_ino
