/// TokenReelModel module namespace. See docs/ARCHITECTURE.md for what this module owns.
public enum TokenReelModelModule {
    public static let name = "TokenReelModel"
}
