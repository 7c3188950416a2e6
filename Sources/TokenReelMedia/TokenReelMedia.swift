/// TokenReelMedia module namespace. See docs/ARCHITECTURE.md for what this module owns.
public enum TokenReelMediaModule {
    public static let name = "TokenReelMedia"
}
