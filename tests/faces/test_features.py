"""features.parquet contract and the three extractors, on the tiny synthetic CelebA."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gatedvae.faces import celeba, extractors, features, geometry, openface
from gatedvae.faces.render import landmarks
from gatedvae.faces.synthetic import SyntheticConfig, face_of, sample_factors


def _ids(factors):
    return factors["image_id"].tolist()


def test_synthetic_extractor_without_noise_is_the_truth(tiny_celeba, tmp_path):
    _, factors, _ = tiny_celeba
    frame = extractors.from_synthetic(factors, _ids(factors))
    assert frame["success"].all() and (frame["extractor"] == "synthetic").all()
    np.testing.assert_allclose(frame["yaw"], factors["yaw"])
    np.testing.assert_allclose(frame["AU12_r"], factors["AU12_r"])
    features.write(tmp_path / "f.parquet", frame)
    back = features.read(tmp_path / "f.parquet")
    pd.testing.assert_frame_equal(back, features.validate(frame))


def test_synthetic_extractor_noise_and_failures(tiny_celeba):
    _, factors, _ = tiny_celeba
    counts = {}
    frame = extractors.from_synthetic(factors, _ids(factors), pose_noise_deg=2.0, au_noise=0.3,
                                      failure_rate=0.25, seed=1, counts=counts)
    ok = frame["success"].to_numpy()
    assert counts["failed"] == (~ok).sum() > 0
    assert frame.loc[~ok, "yaw"].isna().all()
    err = np.degrees(np.abs(frame.loc[ok, "yaw"].to_numpy() - factors.loc[ok, "yaw"].to_numpy()))
    assert 0 < err.mean() < 5


def test_openface_extractor_drops_failed_and_low_confidence(tiny_celeba):
    root, factors, _ = tiny_celeba
    counts = {}
    frame = extractors.from_openface(root / "openface" / "img_celeba.csv", _ids(factors),
                                     min_confidence=0.75, counts=counts)
    features.validate(frame)
    table = pd.read_csv(root / "openface" / "img_celeba.csv")
    failed = table["success"].to_numpy() == 0
    low = ~failed & (table["confidence"].to_numpy() < 0.75)
    assert counts["failed"] == failed.sum() > 0 and counts["low_confidence"] == low.sum() > 0
    assert frame["success"].sum() == len(factors) - failed.sum() - low.sum()
    assert not frame.loc[failed | low, "success"].any()
    ok = frame["success"].to_numpy()
    assert np.degrees(np.abs(frame.loc[ok, "pitch"] - factors.loc[ok, "pitch"])).max() < 10


def test_openface_extractor_rejects_csv_for_other_images(tiny_celeba):
    root, factors, _ = tiny_celeba
    with pytest.raises(ValueError, match=r"48 rows but 10 images: the CSV was made from another folder"):
        extractors.from_openface(root / "openface" / "img_celeba.csv", _ids(factors)[:10])


def test_openface_image_mode_folder(tmp_path, tiny_celeba):
    root, factors, _ = tiny_celeba
    table = pd.read_csv(root / "openface" / "img_celeba.csv")
    folder = tmp_path / "per_image"
    folder.mkdir()
    cols = ["face", "confidence"] + [c for c in table.columns if c.startswith(("pose_", "AU"))]
    for i, image_id in enumerate(_ids(factors)[:5]):
        row = table.iloc[i].copy()
        row["face"] = 0
        if i == 3:
            continue  # OpenFace wrote nothing: no face found
        pd.DataFrame([row[cols]]).to_csv(folder / image_id.replace(".jpg", ".csv"), index=False)
    counts = {}
    frame = extractors.from_openface(folder, _ids(factors)[:5], min_confidence=0.0, counts=counts)
    assert counts["no_row"] == 1 and not frame.loc[3, "success"]
    assert frame.loc[[0, 1, 2, 4], "success"].all()
    pitch, yaw, _ = openface.to_project_pose(*table.loc[0, ["pose_Rx", "pose_Ry", "pose_Rz"]])
    np.testing.assert_allclose(frame.loc[0, ["pitch", "yaw"]].to_numpy(float), [pitch, yaw])
    assert counts["failures"] == [{"image_id": _ids(factors)[3], "reason": "no row in the OpenFace output"}]


def test_celeba_annotations_extractor_pose_tolerance(tiny_celeba):
    root, factors, _ = tiny_celeba
    lm, attrs = extractors.load_landmarks_and_attributes(root, "list_landmarks_celeba.txt")
    counts = {}
    frame = extractors.from_celeba_annotations(lm, attrs, _ids(factors), counts=counts)
    features.validate(frame)
    assert frame["success"].all() and counts["no_landmarks"] == 0
    err_yaw = np.degrees(np.abs(frame["yaw"] - factors["yaw"]))
    err_pitch = np.degrees(np.abs(frame["pitch"] - factors["pitch"]))
    # integer landmarks and smiles (which lift the mouth corners) limit the 5-point estimate
    assert err_yaw.mean() < 4 and err_pitch.mean() < 6
    assert frame["AU04_r"].isna().all()  # 5 points carry no brow information
    smiling = attrs.loc[_ids(factors), "Smiling"].to_numpy() > 0
    assert frame.loc[smiling, "AU12_r"].mean() > frame.loc[~smiling, "AU12_r"].mean() + 1


def test_landmark_pose_is_exact_for_neutral_faces():
    f = sample_factors(SyntheticConfig(n_images=300, seed=4))
    neutral = f[f["smile"] == 0]
    lm = np.stack([landmarks(face_of(r)) for r in neutral.to_dict("records")])
    pitch, yaw, roll = geometry.pose_from_landmarks(lm)
    np.testing.assert_allclose(pitch, neutral["pitch"], atol=1e-9)
    np.testing.assert_allclose(yaw, neutral["yaw"], atol=1e-9)
    np.testing.assert_allclose(roll, neutral["roll"], atol=1e-9)


def test_celeba_annotations_missing_landmarks_are_counted(tiny_celeba):
    root, factors, _ = tiny_celeba
    lm = celeba.read_landmarks(root / "list_landmarks_celeba.txt").iloc[:-3]
    counts = {}
    frame = extractors.from_celeba_annotations(lm, None, _ids(factors), counts=counts)
    assert counts["no_landmarks"] == 3 and (~frame["success"]).sum() == 3
    assert frame["AU25_r"].isna().all()  # no attribute file: no mouth-open proxy
    # each failed image named, with its reason
    assert counts["failures"] == [{"image_id": i, "reason": "no landmark row"} for i in _ids(factors)[-3:]]


def test_params_comment_names_every_extractor():
    """params.yaml's comment on faces.features.extractor lists every choice the code accepts."""
    from pathlib import Path

    from gatedvae.faces.spec import EXTRACTORS

    text = (Path(__file__).resolve().parents[2] / "params.yaml").read_text()
    line = next(l for l in text[text.index("  features:"):].splitlines() if l.strip().startswith("extractor:"))
    comment = line.split("#", 1)[1]
    assert all(name in comment for name in EXTRACTORS), (EXTRACTORS, comment)


@pytest.mark.parametrize("breakage,message", [
    (lambda f: f.drop(columns=["yaw"]), r"columns missing \['yaw'\]"),
    (lambda f: f.assign(extra=1), r"columns missing \[\], unexpected \['extra'\]"),
    (lambda f: f.assign(image_id=["a.jpg"] * len(f)), r"row 1: image_id a.jpg appears twice"),
    (lambda f: f.assign(success=f["success"].astype(int)), "column success must be bool"),
    (lambda f: f.assign(yaw=f["yaw"] * 0 + 4.0), r"row 0: pitch and yaw must be radians"),
    (lambda f: f.assign(AU12_r=f["AU12_r"] * 0 + 6.0), r"row 0: AU intensities must lie in 0..5"),
    (lambda f: f.assign(pitch=np.where(np.arange(len(f)) == 2, np.nan, f["pitch"])),
     r"row 2: pitch and yaw must be finite where success"),
])
def test_schema_violations_are_named(tiny_celeba, tmp_path, breakage, message):
    _, factors, _ = tiny_celeba
    frame = breakage(extractors.from_synthetic(factors, _ids(factors)))
    with pytest.raises(features.FeaturesSchemaError, match=message):
        features.write(tmp_path / "bad.parquet", frame)
    assert not (tmp_path / "bad.parquet").exists()
    frame.to_parquet(tmp_path / "bad.parquet", index=False)  # written by someone else
    with pytest.raises(features.FeaturesSchemaError, match="bad.parquet: " + message):
        features.read(tmp_path / "bad.parquet")


def test_celeba_annotations_smile_proxy_is_calibrated_on_the_renderer():
    """Without attributes, AU12 comes from the mouth corners alone: a frontal neutral mouth reads
    0, a full smile 5 and a half smile 2.5 (the renderer's SMILE_WIDEN / SMILE_LIFT)."""
    import pandas as pd

    base = sample_factors(SyntheticConfig(n_images=1, seed=0)).iloc[0].to_dict()
    base.update(pitch=0.0, yaw=0.0, roll=0.0)
    smiles = (0.0, 0.5, 1.0)
    ids = [f"{i + 1:06d}.jpg" for i in range(len(smiles))]
    points = np.stack([landmarks(face_of({**base, "smile": s})) for s in smiles]).reshape(len(smiles), 10)
    lm = pd.DataFrame(points, index=pd.Index(ids, name="image_id"))
    frame = extractors.from_celeba_annotations(lm, None, ids).set_index("image_id")
    np.testing.assert_allclose(frame.loc[ids, "AU12_r"], [0.0, 2.5, 5.0], atol=0.05)
