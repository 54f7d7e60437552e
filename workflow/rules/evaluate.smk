# Rules of the evaluate stage (added by the stage's owner).
