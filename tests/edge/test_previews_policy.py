"""Bootstrap takes back the public-read statement earlier versions put on the previews
bucket, and only that (an operator's own statements stay). That the bucket then refuses
anonymous reads, on moto and on Ceph RGW: tests/security/test_previews_private.py."""

from __future__ import annotations

from ops.bootstrap import PUBLIC_READ_SID, without_public_read

OLD_PUBLIC_READ = {
    "Sid": PUBLIC_READ_SID,
    "Effect": "Allow",
    "Principal": "*",
    "Action": "s3:GetObject",
    "Resource": "arn:aws:s3:::previews/*",
}
OPERATORS = {
    "Sid": "OperatorDenyDelete",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:DeleteBucket",
    "Resource": "arn:aws:s3:::previews",
}


def test_only_the_public_read_statement_is_taken_back() -> None:
    policy = {"Version": "2012-10-17", "Statement": [OLD_PUBLIC_READ, OPERATORS]}
    assert without_public_read(policy)["Statement"] == [OPERATORS]
    assert without_public_read({"Statement": OLD_PUBLIC_READ})["Statement"] == []
