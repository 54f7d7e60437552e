# Rules of the classify stage (added by the stage's owner).
