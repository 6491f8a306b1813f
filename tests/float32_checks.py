"""The scikit-learn checks excluded for every aekit estimator, with the reason."""


def float32_exclusions(replacement_test: str) -> dict[str, str]:
    reason = (
        "the network computes in float32; a row's result can differ in the last bit (≈1e-7 relative) with its "
        "position in the batch, because the matrix-multiply kernels sum in a different order for edge rows; this "
        f"check demands rtol=1e-7. {replacement_test} checks the same property at float32 precision."
    )
    return {"check_methods_sample_order_invariance": reason, "check_methods_subset_invariance": reason}
