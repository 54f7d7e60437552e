# Rules of the segment stage (added by the stage's owner).
