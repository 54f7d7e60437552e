# Rules of the synthesize stage (added by the stage's owner).
