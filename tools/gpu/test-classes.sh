#!/usr/bin/env bash
# Runs each GPU test class in a JVM of its own, so that a sticky CUDA context error (an illegal address poisons the
# context for the rest of the process) fails only the class that caused it:
#   test-classes.sh REPORTS_DIR JAVA CONSOLE_JAR CLASS_PATH CLASS... (JVM flags in $GPU_CHECK_JFLAGS; a command to
#   run java under, such as compute-sanitizer, in $GPU_CHECK_WRAP)
# Each class's JUnit XML goes to REPORTS_DIR/CLASS/. Exit status: 0 when every class passed, else the first failing
# class's status.
set -uo pipefail
reports="$1" java="$2" console="$3" cp="$4"
shift 4
read -r -a jflags <<< "${GPU_CHECK_JFLAGS:-}"
read -r -a wrap <<< "${GPU_CHECK_WRAP:-}"
status=0
for c in "$@"; do
  echo "gpu-check: test class $c"
  "${wrap[@]}" "$java" "${jflags[@]}" -jar "$console" execute --class-path "$cp" --select-class "dev.fluxerase.cuda.$c" \
    --reports-dir "$reports/$c" --details=tree --disable-banner
  rc=$?
  echo "gpu-check: test class $c: exit $rc"
  (( status == 0 && rc != 0 )) && status=$rc
done
exit $status
