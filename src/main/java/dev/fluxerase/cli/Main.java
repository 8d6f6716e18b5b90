package dev.fluxerase.cli;

import dev.fluxerase.pipeline.MemoryEstimate;
import picocli.CommandLine;
import picocli.CommandLine.Command;


/** The flux-erase command line. Every failure the user can cause ends as one line on stderr and a non-zero exit. */
@Command(name = "flux-erase", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "EraseAnything concept erasure for FLUX.1, on the JVM.",
        subcommands = {CommandLine.HelpCommand.class,
                InspectCommand.class,
                ForwardCommand.class,
                TokenizeCommand.class,
                ScheduleCommand.class,
                DoctorCommand.class,
                EncodePromptCommand.class,
                GenerateCommand.class,
                EvaluateCommand.class,
                EraseCommand.class,
                ToyTrainCommand.class,
                DemoCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns the exit code (tests call this instead of main). */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Main());
        HelpLayout.install(cl);
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            commandLine.getErr().println("flux-erase: " + oneLine(ex));
            return 1;
        });
        try {
            return cl.execute(args);
        } catch (OutOfMemoryError e) {
            // the work is gone either way; what the user needs is the limit that was hit and how to raise it
            System.gc();
            cl.getErr().println(outOfMemory(Runtime.getRuntime().maxMemory()));
            return 1;
        }
    }

    /** The one line for a Java heap exhausted by the work (a large image or model on the CPU backend). */
    static String outOfMemory(long maxHeap) {
        return "flux-erase: out of memory: the work needed more than the Java heap's " + MemoryEstimate.bytes(maxHeap)
                + "; " + MemoryEstimate.RAISE;
    }

    static String oneLine(Throwable ex) {
        String m = ex.getMessage();
        return (m == null || m.isBlank() ? ex.getClass().getSimpleName() : m).replace('\n', ' ');
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[]{"flux-erase " + (v == null ? "(development build)" : v),
                    "Java " + Runtime.version() + " (" + System.getProperty("java.vendor") + ")"};
        }
    }
}
