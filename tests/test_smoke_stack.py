def test_stack_comes_up(stack, s3):
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert {"staging", "masters", "previews", "docs"} <= names
    lock = s3.get_object_lock_configuration(Bucket="masters")
    assert lock["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled"
