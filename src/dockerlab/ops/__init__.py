"""Operations for instructors and maintainers: course images and stand-ins, bundles, offline wheelhouses, the doctor, run-all, bench, authoring, the command."""
