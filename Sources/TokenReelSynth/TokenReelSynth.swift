/// TokenReelSynth module namespace. See docs/ARCHITECTURE.md for what this module owns.
public enum TokenReelSynthModule {
    public static let name = "TokenReelSynth"
}
