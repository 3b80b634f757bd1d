"""Small real datasets made from NUAA crops: a real/ spoof/ subset of symbolic links (nothing
copied), and 640×480 videos with NUAA faces on a grey background for ``prepare``."""
import cv2
import numpy as np

from antispoof.testing.checkout import NUAA

FRAME = (480, 640)
SMALL_SUBJECTS = ("0001", "0002", "0003", "0004", "0006", "0007", "0008", "0009")


def make_subset(root, subjects, per_subject):
    """A real/ spoof/ per-subject folder of symlinks to every 7th NUAA crop."""
    for class_dir, label in (("ClientFace", "real"), ("ImposterFace", "spoof")):
        for subject in subjects:
            files = sorted((NUAA / class_dir / subject).glob("*.jpg"))[::7][:per_subject]
            target = root / label / subject
            target.mkdir(parents=True, exist_ok=True)
            for f in files:
                (target / f.name).symlink_to(f)
    return root


def nuaa_frames(folder, subject, count, faces=1):
    """640×480 frames, grey background, with ``faces`` NUAA crops of the subject side by side."""
    files = sorted((NUAA / folder / subject).glob("*.jpg"))[::5][:count]
    frames = []
    for f in files:
        frame = np.full((*FRAME, 3), 90, np.uint8)
        crop = cv2.resize(cv2.imread(str(f)), (200, 200))
        for k in range(faces):
            x = 220 if faces == 1 else 60 + 320 * k
            frame[140:340, x:x + 200] = crop
        frames.append(frame)
    return frames


def write_video(path, frames):
    path.parent.mkdir(parents=True, exist_ok=True)
    codec = "MJPG" if path.suffix == ".avi" else "mp4v"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), 15, FRAME[::-1])
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def folders_tree(root, subjects=("0001", "0002", "0003", "0004"), count=6):
    """One live and one photo video per subject, in prepare's real/ spoof/ folder layout."""
    for subject in subjects:
        write_video(root / "real" / subject / "live session.mp4", nuaa_frames("ClientFace", subject, count))
        write_video(root / "spoof" / subject / "photo.mp4", nuaa_frames("ImposterFace", subject, count))
    return root
