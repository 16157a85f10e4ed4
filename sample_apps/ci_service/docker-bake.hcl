# docker buildx bake: the builds CI makes of this Dockerfile, named once, run with one command.
# `docker buildx bake` builds the default group (test and runtime, concurrently in one invocation);
# `docker buildx bake test` builds one target; `docker buildx bake --print` shows the resolved definitions as JSON
# without building. A variable is read from the environment: `PREFIX=ghcr.io/acme/ci-service docker buildx bake`.
variable "PREFIX" {
  default = "ci-service"
}

variable "VERSION" {
  default = "1.0.0"
}

group "default" {
  targets = ["test", "runtime"]
}

target "test" {
  target = "test"
  tags   = ["${PREFIX}:test"]
}

target "runtime" {
  target = "runtime"
  tags   = ["${PREFIX}:${VERSION}"]
  args = {
    VERSION = VERSION
  }
}
