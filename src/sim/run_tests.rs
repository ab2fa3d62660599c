//! Tests of one command's set-up.

use super::*;

#[test]
fn a_job_world_compares_with_the_scaled_job_variants_only() {
    let all = names("all", true).unwrap();
    assert_eq!(
        all,
        [
            "jetpool",
            "keda-job",
            "keda-job-tuned",
            "keda-job-accurate",
            "bound"
        ]
    );
    assert!(names("keda", true).is_err());
    assert!(names("jetpool-default", true).is_err());
    assert!(names("keda-job", false).is_err());
    assert_eq!(names("keda", false).unwrap(), ["jetpool", "keda"]);
}
