/// TokenReelPipeline module namespace. See docs/ARCHITECTURE.md for what this module owns.
public enum TokenReelPipelineModule {
    public static let name = "TokenReelPipeline"
}
