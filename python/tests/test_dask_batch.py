"""slidestream.dask.process_slides on a LocalCluster of 2 worker processes (CPU): outputs equal to
single-process `slidestream process` file for file; a rerun skips every slide and changes nothing;
a partial output is redone; an unreadable slide is reported while the others finish; a worker
killed mid-batch (or a client.restart()) leaves the batch to finish, with no partial output taken
for complete."""

from __future__ import annotations

import os
import shutil
import threading
import time

import numpy as np
import pytest

from dask_support import (SHARED, cli_process, files_under, make_cluster, scan_pixels,
                          stamps_under, write_pyramid)

import slidestream.dask as ssd

OPTIONS = ["--op", "sobel", "--tile", "256", "--pyramid"]


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Four small slides (the real scan and three generated pyramids) and their outputs from one
    `slidestream process` each."""
    root = tmp_path_factory.mktemp("dask_batch")
    pixels = scan_pixels()
    slides = [SHARED / "cmu-1-small-region.svs",
              write_pyramid(root / "a-deflate.tif", pixels[:1500, :1300], 256, compression="zlib"),
              write_pyramid(root / "b-raw.tif", np.ascontiguousarray(pixels[::-1, :1800]), 512),
              write_pyramid(root / "c-zstd.tif", pixels[700:, 200:], 128, compression="zstd")]
    reference = root / "reference"
    for slide in slides:
        cli_process(slide, ssd.output_path(reference, slide), *OPTIONS)
    return slides, reference


def run(slides, out, client, **kw):
    return ssd.process_slides(slides, out, ops=["sobel"], client=client, device="cpu",
                              tile=256, pyramid=True, progress=False, summary=False, **kw)


def assert_equal_to_reference(slides, out, reference):
    for slide in slides:
        got = files_under(ssd.output_path(out, slide))
        assert got == files_under(ssd.output_path(reference, slide)), slide


@pytest.fixture(scope="module")
def client():
    cluster, client = make_cluster(2)
    yield client
    client.close()
    cluster.close()


def test_two_workers_write_what_one_process_writes_and_a_rerun_changes_nothing(batch, client,
                                                                               tmp_path):
    slides, reference = batch
    results = run(slides, tmp_path, client)
    assert [r.status for r in results] == ["done"] * len(slides), results
    assert [r.slide for r in results] == [str(s) for s in slides]
    assert len({r.worker for r in results}) == 2  # both workers took slides
    assert all(r.bytes > 0 and r.seconds > 0 and r.gpu == "cpu" for r in results)
    assert_equal_to_reference(slides, tmp_path, reference)

    before = stamps_under(tmp_path), files_under(tmp_path)
    again = run(slides, tmp_path, client)
    assert [r.status for r in again] == ["skipped"] * len(slides)
    assert (stamps_under(tmp_path), files_under(tmp_path)) == before
    table = ssd.format_summary(again)
    assert "4 slides: 0 done, 4 skipped (complete), 0 failed" in table


def test_a_partial_output_is_redone(batch, client, tmp_path):
    slides, reference = batch
    run(slides[:2], tmp_path, client)
    partial = ssd.output_path(tmp_path, slides[1])
    (partial / "zarr.json").unlink()  # as a run killed before its last write leaves it
    (partial / "0" / "stray").write_bytes(b"left by a killed run")
    assert not ssd.is_complete(partial)
    results = run(slides[:2], tmp_path, client)
    assert [r.status for r in results] == ["skipped", "done"]
    assert_equal_to_reference(slides[:2], tmp_path, reference)


def test_an_unreadable_slide_is_reported_and_the_others_finish(batch, client, tmp_path):
    slides, reference = batch
    cut = tmp_path / "cut.tif"
    shutil.copyfile(slides[1], cut)
    os.truncate(cut, cut.stat().st_size // 3)  # made unreadable after it was listed
    out = tmp_path / "out"
    results = run([slides[0], cut, slides[2]], out, client)
    assert [r.status for r in results] == ["done", "failed", "done"]
    failed = results[1]
    assert failed.slide == str(cut) and str(cut) in failed.error, failed.error
    assert not ssd.is_complete(ssd.output_path(out, cut))
    assert_equal_to_reference([slides[0], slides[2]], out, reference)
    table = ssd.format_summary(results)
    assert "cut.tif" in table and "failed:" in table


@pytest.mark.parametrize("how", ["kill", "restart"])
def test_a_worker_killed_mid_batch_leaves_the_batch_to_finish(batch, tmp_path, how):
    slides, reference = batch
    # Eight tasks (each slide twice, under other names) so that the kill lands mid-batch.
    many = []
    for k in range(2):
        for s in slides:
            copy = tmp_path / "in" / f"{k}-{s.name}"
            copy.parent.mkdir(exist_ok=True)
            shutil.copyfile(s, copy)
            many.append(copy)
    cluster, client = make_cluster(2)
    try:
        pids = client.run(os.getpid)  # worker address -> process id
        out = tmp_path / "out"
        results = {}
        thread = threading.Thread(target=lambda: results.update(r=run(many, out, client)))
        thread.start()
        victim = None
        deadline = time.monotonic() + 60
        while victim is None and time.monotonic() < deadline and thread.is_alive():
            busy = [w for w, tasks in client.processing().items() if tasks]
            if busy:
                victim = busy[0]
                if how == "kill":
                    os.kill(pids[victim], 9)  # the other worker finishes the batch
                else:
                    client.restart()  # every worker: the batch's tasks are cancelled, resubmitted
            time.sleep(0.01)
        thread.join(300)
        assert victim is not None, "no task ran long enough to be interrupted"
        assert not thread.is_alive()
        statuses = [r.status for r in results["r"]]
        assert statuses == ["done"] * len(many), results["r"]
        for copy in many:
            original = next(s for s in slides if copy.name.endswith(s.name))
            assert files_under(ssd.output_path(out, copy)).keys() == \
                files_under(ssd.output_path(reference, original)).keys()
            # Pixels equal the reference's (metadata names the slide, so compare chunk files).
            got = files_under(ssd.output_path(out, copy))
            want = files_under(ssd.output_path(reference, original))
            assert {k: v for k, v in got.items() if not k.endswith("zarr.json")} == \
                {k: v for k, v in want.items() if not k.endswith("zarr.json")}, copy
    finally:
        client.close()
        cluster.close()
