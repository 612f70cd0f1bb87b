"""One pitch/yaw convention in features.parquet, whatever the extractor (geometry.py's: positive
yaw turns the nose tip to the image's right, positive pitch looks down).

OpenFace's own convention is taken from its source (Euler2RotationMatrix: R = Rx Ry Rz in a
camera frame with y down and z away from the camera): a head rotated that way and projected must
give, through the project's landmark pose estimator, the angles openface.to_project_pose gives."""

from __future__ import annotations

import numpy as np

from gatedvae.faces import extractors, geometry, openface

DEG = np.pi / 180


def _openface_projection(rx, ry, rz, scale=50.0, centre=(100.0, 120.0)):
    """The generic face's 5 landmarks as OpenFace sees a head at pose_R (rx, ry, rz): model points
    in its frame (y down, z away: the project's frame half-turned about x), rotated by
    R = Rx Ry Rz, projected orthographically onto an image whose y runs down."""
    model = geometry.LANDMARKS_3D @ openface.FLIP
    rotated = model @ openface.rotation_xyz(rx, ry, rz).T
    return np.stack([centre[0] + scale * rotated[:, 0], centre[1] + scale * rotated[:, 1]], axis=1)


def test_openface_rotation_matches_its_source():
    """R = Rx Ry Rz, first row (c2 c3, -c2 s3, s2) as in OpenFace's RotationHelpers.h."""
    a, b, c = 0.3, -0.4, 0.2
    rot = openface.rotation_xyz(a, b, c)
    np.testing.assert_allclose(rot[0], [np.cos(b) * np.cos(c), -np.cos(b) * np.sin(c), np.sin(b)])
    np.testing.assert_allclose(rot[1, 2], -np.cos(b) * np.sin(a))


def test_a_positive_pose_ry_turns_the_nose_to_the_image_left_and_is_negative_yaw():
    """OpenFace: a positive pose_Ry is the subject turning to their right, which from the camera
    moves the nose tip to the image's left; the project calls that a negative yaw."""
    frontal = _openface_projection(0.0, 0.0, 0.0)
    turned = _openface_projection(0.0, 20 * DEG, 0.0)
    eyes_mid = turned[:2].mean(axis=0)
    assert turned[2, 0] < eyes_mid[0] and np.isclose(frontal[2, 0], frontal[:2, 0].mean())
    pitch, yaw, roll = openface.to_project_pose(0.0, 20 * DEG, 0.0)
    np.testing.assert_allclose([pitch, yaw, roll], [0.0, -20 * DEG, 0.0], atol=1e-12)
    # pitch keeps its sign: a positive pose_Rx (looking down) is a positive pitch
    np.testing.assert_allclose(openface.to_project_pose(15 * DEG, 0.0, 0.0)[0], 15 * DEG)


def test_converted_angles_are_what_the_project_estimator_reads_from_the_projection():
    rng = np.random.default_rng(0)
    rx, ry, rz = (rng.uniform(-lim, lim, 40) * DEG for lim in (20, 35, 20))
    points = np.stack([_openface_projection(*angles) for angles in zip(rx, ry, rz)])
    pitch, yaw, roll = geometry.pose_from_landmarks(points)
    want = openface.to_project_pose(rx, ry, rz)
    np.testing.assert_allclose(pitch, want[0], atol=1e-6)
    np.testing.assert_allclose(yaw, want[1], atol=1e-6)
    np.testing.assert_allclose(roll, want[2], atol=1e-6)


def test_conversion_round_trips():
    rng = np.random.default_rng(1)
    pitch, yaw, roll = (rng.uniform(-lim, lim, 100) * DEG for lim in (30, 60, 40))
    back = openface.to_project_pose(*openface.from_project_pose(pitch, yaw, roll))
    np.testing.assert_allclose(np.stack(back), np.stack([pitch, yaw, roll]), atol=1e-12)


def test_every_extractor_gives_the_same_sign_on_the_same_faces(tiny_celeba):
    """The same rendered faces through each extractor's path: every yaw and pitch follows the
    truth with a positive slope (the OpenFace CSV is written in OpenFace's convention)."""
    from gatedvae.faces import landmarks68

    root, factors, _ = tiny_celeba
    ids = factors["image_id"].tolist()
    lm, attrs = extractors.load_landmarks_and_attributes(root, "list_landmarks_celeba.txt")
    frames = {"celeba_annotations": extractors.from_celeba_annotations(lm, attrs, ids),
              "openface": extractors.from_openface(root / "openface" / "img_celeba.csv", ids)}
    if landmarks68.available():
        frames["landmarks68"] = landmarks68.extract(root / "img_celeba", ids)
    truth = factors.set_index("image_id").loc[ids]
    for name, frame in frames.items():
        ok = frame["success"].to_numpy()
        for angle in ("yaw", "pitch"):
            r = np.corrcoef(frame.loc[ok, angle].to_numpy(float), truth[angle].to_numpy()[ok])[0, 1]
            assert r > (0.6 if name == "landmarks68" else 0.9), (name, angle, r)
    table = openface.read_csv(root / "openface" / "img_celeba.csv")
    big = (np.abs(truth["yaw"].to_numpy()) > 10 * DEG) & (table["success"].to_numpy() > 0)
    assert (np.sign(table.loc[big, "pose_Ry"]) == -np.sign(truth.loc[big, "yaw"].to_numpy())).all()
