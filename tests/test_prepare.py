"""Dataset preparation on real inputs: videos written from NUAA frames, the real BlazeFace
detector, broken files, each dataset's naming, and a killed run that resumes."""
import csv
import json
import os
import signal
import subprocess
import time

import cv2
import numpy as np
import pytest

from antispoof.data.datasets import FaceDataset
from antispoof.core.errors import AntispoofError
from antispoof.data.faces import FaceDetector, crop_face, crop_square
from antispoof.data.prepare import PrepareOptions, prepare
from antispoof.data.sources import list_sources
from antispoof.testing.nuaa import FRAME, folders_tree, nuaa_frames, write_video
from conftest import ANTISPOOF, NUAA, run_cli

def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_crop_geometry_is_square_centred_and_padded():
    assert crop_square((100, 50, 40, 60), 1.5) == (75, 35, 90)
    frame = np.full((100, 100, 3), 255, np.uint8)
    crop = crop_face(frame, (-20, 40, 40, 40), 20, 1.0)  # half of the box lies left of the frame
    assert crop.shape == (20, 20, 3)
    assert crop[:, :9].max() == 0 and crop[:, 11:].min() == 255


@pytest.mark.shared
def test_detector_finds_one_face_per_nuaa_frame_and_two_side_by_side():
    with FaceDetector() as detector:
        one = detector.detect(cv2.cvtColor(nuaa_frames("ClientFace", "0001", 1)[0], cv2.COLOR_BGR2RGB))
        two = detector.detect(cv2.cvtColor(nuaa_frames("ClientFace", "0001", 1, faces=2)[0],
                                           cv2.COLOR_BGR2RGB))
    assert len(one) == 1 and one[0].score > 0.8
    x, y, w, h = one[0].box
    assert 220 <= x + w / 2 <= 420 and 140 <= y + h / 2 <= 340 and 120 <= w <= 200
    assert len(two) == 2


@pytest.mark.shared
def test_prepare_videos_into_a_dataset_that_training_reads(tmp_path):
    src = folders_tree(tmp_path / "src")
    summary = prepare(src, tmp_path / "out", progress=False)
    assert summary["source_format"] == "folders" and summary["sources"] == 8
    assert summary["frames"] == 48 and summary["no_face"] == summary["multiple_faces"] == 0
    assert summary["crops"] == 48 and summary["blurry"] == 0
    rows = read_csv(tmp_path / "out" / "manifest.csv")
    assert len(rows) == summary["crops"] and {r["label"] for r in rows} == {"real", "spoof"}
    for row in rows:
        crop = cv2.imread(str(tmp_path / "out" / row["file"]))
        assert crop.shape == (128, 128, 3)
        x0, y0, x1, y1 = map(int, row["bbox_xyxy"].split(","))
        assert 200 <= (x0 + x1) / 2 <= 440 and float(row["score"]) > 0.5
        assert row["file"].startswith(f"{row['label']}/{row['subject']}/")
    # the layout train/build read, with the written protocol and the manifest's attack types
    dataset = FaceDataset(tmp_path / "out")
    assert dataset.protocol.name == "folders-subject-holdout-seed0"
    assert len(dataset.samples) == summary["crops"]
    assert {s.attack for s in dataset.samples if s.label} == {"spoof"}
    protocol = json.loads((tmp_path / "out" / "protocol.json").read_text())
    assert sum(sum(c.values()) for c in protocol["counts"].values()) == summary["crops"]
    assert not set(protocol["splits"]["test"]) & set(protocol["splits"]["dev"])


@pytest.mark.shared
def test_filters_two_faces_in_real_frames_bad_files_and_blur(tmp_path):
    src = tmp_path / "src"
    write_video(src / "real" / "s1" / "bystander.mp4", nuaa_frames("ClientFace", "0001", 4, faces=2))
    write_video(src / "spoof" / "s1" / "two photos.mp4", nuaa_frames("ImposterFace", "0001", 4, faces=2))
    good = write_video(src / "real" / "s2" / "good.avi", nuaa_frames("ClientFace", "0002", 10))
    (src / "real" / "s2" / "truncated.avi").write_bytes(good.read_bytes()[:len(good.read_bytes()) // 2])
    mp4 = write_video(src / "real" / "s2" / "good.mp4", nuaa_frames("ClientFace", "0002", 2))
    (src / "real" / "s2" / "cut.mp4").write_bytes(mp4.read_bytes()[:len(mp4.read_bytes()) // 2])
    write_video(src / "real" / "s3" / "empty.mp4", [])
    (src / "spoof" / "s3").mkdir(parents=True)
    (src / "spoof" / "s3" / "not an image.jpg").write_text("plain text")
    (src / "spoof" / "s3" / "readme.pdf").write_text("unsupported")
    cv2.imwrite(str(src / "spoof" / "s3" / "blank.png"), np.full((*FRAME, 3), 90, np.uint8))
    blurred = cv2.GaussianBlur(nuaa_frames("ImposterFace", "0002", 1)[0], (0, 0), 6)
    cv2.imwrite(str(src / "spoof" / "s3" / "blurred.png"), blurred)

    summary = prepare(src, tmp_path / "out", progress=False)
    sources = {os.path.basename(r["source"]): r for r in read_csv(tmp_path / "out" / "sources.csv")}
    assert sources["bystander.mp4"]["multiple_faces"] == "4" and sources["bystander.mp4"]["crops"] == "0"
    assert sources["two photos.mp4"]["crops"] == "4"  # an attack keeps its largest face
    assert summary["multiple_faces_in_real_videos"] == {str(src / "real/s1/bystander.mp4"): 4}
    assert sources["good.avi"]["crops"] == "10" and not sources["good.avi"]["problem"]
    # an AVI cut in half still plays its first frames; an MP4 cut in half lost its index
    assert sources["truncated.avi"]["problem"].startswith("truncated: read ")
    assert 0 < int(sources["truncated.avi"]["crops"]) < 10
    assert sources["cut.mp4"]["problem"] == "cannot open video (unreadable, or not a video)"
    assert sources["empty.mp4"]["problem"] and sources["empty.mp4"]["crops"] == "0"
    assert sources["not an image.jpg"]["problem"] == "cannot decode image"
    assert sources["blank.png"]["no_face"] == "1"
    assert sources["blurred.png"]["blurry"] == "1" or sources["blurred.png"]["no_face"] == "1"
    assert summary["rejected_files"] == [{"file": str(src / "spoof/s3/readme.pdf"),
                                          "reason": "not a file this format uses"}]
    assert summary["crops"] == len(read_csv(tmp_path / "out" / "manifest.csv")) >= 17
    assert summary["crops"] == len(list((tmp_path / "out").rglob("*.jpg")))  # no name collides


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


@pytest.mark.shared
def test_adapters_read_each_naming_scheme(tmp_path):
    rose = tmp_path / "rose"
    for relative in ("rgb/adaptation/2/G_NT_5s_g_E_2_1.mp4", "rgb/adaptation/2/Ps_T_HW_wg_E_2_3.mp4",
                     "rgb/test/7/Vm_NT_IP_g_E_7_2.mp4", "rgb/test/7/Mf_T_ZTE_g_E_7_1.mp4",
                     "rgb/test/9/9_Pq_NT_HS_g_E_9_4.mov"):
        _touch(rose / relative)
    name, listing = list_sources(rose)
    got = {s.path.name: (s.label, s.subject, s.attack, s.split) for s in listing.sources}
    assert name == "rose-youtu" and got == {
        "G_NT_5s_g_E_2_1.mp4": (0, "2", "", "train"), "Ps_T_HW_wg_E_2_3.mp4": (1, "2", "print", "train"),
        "Vm_NT_IP_g_E_7_2.mp4": (1, "7", "replay_screen", "test"),
        "Mf_T_ZTE_g_E_7_1.mp4": (1, "7", "mask", "test"), "9_Pq_NT_HS_g_E_9_4.mov": (1, "9", "print", "test")}

    replay = tmp_path / "replay"
    for relative in ("train/real/client001_session01_webcam_authenticate_adverse_1.mov",
                     "devel/attack/fixed/attack_highdef_client003_session01_highdef_photo_adverse.mov",
                     "test/attack/hand/attack_print_client009_session01_highdef_photo_controlled.mov",
                     "enroll/train/client001_session01_enroll.mov"):
        _touch(replay / relative)
    name, listing = list_sources(replay)
    got = {s.path.name[:24]: (s.label, s.subject, s.attack, s.split) for s in listing.sources}
    assert name == "replay-attack" and got == {
        "client001_session01_webc": (0, "001", "", "train"),
        "attack_highdef_client003": (1, "003", "replay_screen", "dev"),
        "attack_print_client009_s": (1, "009", "print", "test")}
    assert [os.path.basename(f) for f, _ in listing.rejected] == ["client001_session01_enroll.mov"]

    oulu = tmp_path / "oulu"
    for relative in ("Train_files/1_1_01_1.avi", "Dev_files/2_3_21_2.avi", "Test_files/6_2_55_5.avi"):
        _touch(oulu / relative)
    name, listing = list_sources(oulu)
    got = {s.path.name: (s.label, s.subject, s.attack, s.split) for s in listing.sources}
    assert name == "oulu-npu" and got == {"1_1_01_1.avi": (0, "01", "", "train"),
                                          "2_3_21_2.avi": (1, "21", "print", "dev"),
                                          "6_2_55_5.avi": (1, "55", "replay_screen", "test")}

    celeba = tmp_path / "celeba"
    labels = {"Data/train/4980/live/000001.jpg": [0] * 43 + [0],
              "Data/train/4980/spoof/000002.jpg": [0] * 40 + [9, 0, 0, 1],
              "Data/test/5001/spoof/000003.jpg": [0] * 40 + [3, 0, 0, 1],
              "Data/test/5001/spoof/missing.jpg": [0] * 40 + [3, 0, 0, 1]}
    for relative in list(labels)[:3]:
        _touch(celeba / relative)
    (celeba / "metas/intra_test").mkdir(parents=True)
    (celeba / "metas/intra_test/train_label.json").write_text(json.dumps(dict(list(labels.items())[:2])))
    (celeba / "metas/intra_test/test_label.json").write_text(json.dumps(dict(list(labels.items())[2:])))
    name, listing = list_sources(celeba)
    got = {s.path.name: (s.label, s.subject, s.attack, s.split) for s in listing.sources}
    assert name == "celeba-spoof" and got == {"000001.jpg": (0, "4980", "", "train"),
                                              "000002.jpg": (1, "4980", "replay_screen", "train"),
                                              "000003.jpg": (1, "5001", "print", "test")}
    assert listing.rejected[0][1] == "listed in test_label.json but missing"

    name, listing = list_sources(NUAA)
    assert name == "nuaa" and listing.crops and len(listing.sources) == 12614
    assert {s.attack for s in listing.sources if s.label} == {"print"}


@pytest.mark.shared
def test_official_protocol_and_nuaa_crops_without_detection(tmp_path):
    oulu = tmp_path / "oulu"
    for user, subject in ((1, "0001"), (2, "0002"), (21, "0003"), (36, "0004")):
        write_video(oulu / f"1_1_{user:02d}_1.avi", nuaa_frames("ClientFace", subject, 2))
        write_video(oulu / f"1_1_{user:02d}_2.avi", nuaa_frames("ImposterFace", subject, 2))
    prepare(oulu, tmp_path / "oulu-out", progress=False)
    protocol = json.loads((tmp_path / "oulu-out" / "protocol.json").read_text())
    assert protocol["name"] == "oulu-npu-official"
    assert protocol["splits"]["dev"] == ["21"] and protocol["splits"]["test"] == ["36"]
    assert protocol["counts"]["train"] == {"real": 4, "spoof": 4}
    assert {s.attack for s in FaceDataset(tmp_path / "oulu-out").samples} == {"", "print"}

    nuaa = tmp_path / "nuaa"
    for folder in ("ClientFace", "ImposterFace"):
        for subject in ("0001", "0002", "0003"):
            (nuaa / folder / subject).mkdir(parents=True)
            for f in sorted((NUAA / folder / subject).glob("*.jpg"))[:2]:
                (nuaa / folder / subject / f.name).symlink_to(f)
    summary = prepare(nuaa, tmp_path / "nuaa-out", progress=False)
    assert summary["options"]["detect"] is False and summary["crops"] == 12
    rows = read_csv(tmp_path / "nuaa-out" / "manifest.csv")
    original = cv2.imread(rows[0]["source"])
    assert rows[0]["bbox_xyxy"] == f"0,0,{original.shape[1]},{original.shape[0]}"


@pytest.mark.system
def test_killed_run_resumes_to_the_same_manifest(tmp_path):
    src = folders_tree(tmp_path / "src", subjects=("0001", "0002", "0003", "0004", "0006", "0007"),
                       count=12)
    reference = tmp_path / "reference"
    run_cli("prepare", src, "--out", reference, "--workers", "2")

    out = tmp_path / "out"
    proc = subprocess.Popen([str(ANTISPOOF), "prepare", str(src), "--out", str(out), "--workers", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((out / ".parts").rglob("*-*.json"))) < 3:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole run, workers included: no clean shutdown
    proc.wait()
    deadline = time.time() + 10  # the workers die a moment after the parent: count after them
    while time.time() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.02)
    done = len(list((out / ".parts").rglob("*-*.json")))
    assert 3 <= done < 12 and not (out / "manifest.csv").exists()

    result = run_cli("prepare", src, "--out", out, "--workers", "2")
    assert f"resuming, {done} of 12 sources already done" in result.stderr
    assert (out / "manifest.csv").read_text() == (reference / "manifest.csv").read_text()
    assert (out / "sources.csv").read_text() == (reference / "sources.csv").read_text()
    crops = sorted(p.relative_to(out) for p in out.rglob("*.jpg"))
    assert crops == sorted(p.relative_to(reference) for p in reference.rglob("*.jpg"))
    assert not list(out.rglob("*.tmp*"))  # what the kill left half-written is gone


def test_bad_sources_give_one_line_errors(tmp_path):
    result = run_cli("prepare", tmp_path / "missing", "--out", tmp_path / "o", check=False)
    assert result.returncode == 1 and result.stderr.strip().splitlines()[-1].startswith("Error:")
    assert "source folder not found" in result.stderr
    (tmp_path / "empty" / "real").mkdir(parents=True)
    (tmp_path / "empty" / "spoof").mkdir()
    with pytest.raises(AntispoofError, match=r"no videos or images found \(format folders\)"):
        prepare(tmp_path / "empty", tmp_path / "o", progress=False)
    (tmp_path / "other").mkdir()
    with pytest.raises(AntispoofError, match="cannot tell the dataset format"):
        prepare(tmp_path / "other", tmp_path / "o", progress=False)
    src = folders_tree(tmp_path / "src", subjects=("0001",), count=2)
    prepare(src, tmp_path / "done", progress=False)
    with pytest.raises(AntispoofError, match=r"holds a preparation made otherwise \(--crop-scale 1.1 "
                                             r"there, 1.5 now\): use a new --out"):
        prepare(src, tmp_path / "done", options=PrepareOptions(crop_scale=1.5), progress=False)
