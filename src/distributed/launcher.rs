//! What the environment says about the job: whether an MPI launcher
//! (`mpirun`, `mpiexec`, Slurm's `srun`) started this process, and how many
//! processes it started — to detect a launcher of one MPI library starting a
//! program linked against another (every process then sees a world of 1).

/// Variables MPI launchers set to the number of processes they started.
pub(crate) const SIZE_VARIABLES: [&str; 3] = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE"];

/// Variables whose presence means an MPI launcher started this process.
const LAUNCHER_VARIABLES: [&str; 5] = [
    "OMPI_COMM_WORLD_SIZE",
    "PMI_SIZE",
    "PMI_RANK",
    "PMIX_RANK",
    "MV2_COMM_WORLD_SIZE",
];

/// Whether an MPI launcher started this process, given a way to read the environment.
pub(crate) fn launched(get: impl Fn(&str) -> Option<String>) -> bool {
    LAUNCHER_VARIABLES.iter().any(|v| get(v).is_some())
}

/// The process count the launcher announced, with the variable that says
/// so, when one says more than one process.
pub(crate) fn announced_size(get: impl Fn(&str) -> Option<String>) -> Option<(&'static str, usize)> {
    SIZE_VARIABLES.iter().find_map(|&v| {
        get(v)
            .and_then(|s| s.trim().parse::<usize>().ok())
            .filter(|&n| n > 1)
            .map(|n| (v, n))
    })
}

/// An error message when MPI reports a world of `world_size` processes but
/// the launcher announced more: the launcher and the MPI library the program
/// is linked against do not belong together.
pub(crate) fn mismatch(world_size: usize, get: impl Fn(&str) -> Option<String>) -> Option<String> {
    let (var, announced) = announced_size(get)?;
    (world_size != announced).then(|| {
        format!(
            "the launcher announced {announced} processes ({var}={announced}) but the MPI library this program is \
             linked against sees a world of {world_size}: the launcher (mpirun/mpiexec/srun) belongs to a different \
             MPI installation than the library (check `which mpirun` and `ldd` on the program; with Slurm, pass \
             --mpi=pmix or pmi2 as the library needs)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn a_world_of_one_under_a_launcher_of_two_is_a_mismatch() {
        let e = env(&[("PMI_SIZE", "2"), ("PMI_RANK", "1")]);
        assert!(launched(&e));
        let msg = mismatch(1, &e).unwrap();
        assert!(msg.contains("PMI_SIZE=2") && msg.contains("world of 1"), "{msg}");
        assert_eq!(mismatch(2, &e), None);
        let ompi = env(&[("OMPI_COMM_WORLD_SIZE", "3")]);
        assert!(mismatch(1, &ompi).unwrap().contains("OMPI_COMM_WORLD_SIZE=3"));
    }

    #[test]
    fn no_launcher_or_a_launcher_of_one_is_no_mismatch() {
        assert!(!launched(env(&[("HOME", "/root")])));
        assert_eq!(mismatch(1, env(&[])), None);
        assert_eq!(mismatch(1, env(&[("OMPI_COMM_WORLD_SIZE", "1")])), None);
        assert_eq!(mismatch(1, env(&[("PMI_SIZE", "junk")])), None);
    }
}
